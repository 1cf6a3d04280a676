"""The Ray auth token Secret: created only where KubeRay creates one, with its name, key and label."""

from __future__ import annotations

from typing import Any

import pytest

from raykopf.api import RayCluster
from raykopf.builders.auth import build_auth_secret, needs_auth_secret


def cluster(auth: dict[str, Any] | None) -> RayCluster:
    spec: dict[str, Any] = {
        "headGroupSpec": {
            "rayStartParams": {},
            "template": {"spec": {"containers": [{"name": "r", "image": "i"}]}},
        }
    }
    if auth is not None:
        spec["authOptions"] = auth
    return RayCluster.model_validate({"metadata": {"name": "demo", "namespace": "ns"}, "spec": spec})


@pytest.mark.parametrize(
    ("auth", "needed"),
    [
        (None, False),
        ({"mode": "disabled"}, False),
        ({"mode": "token"}, True),
        ({"mode": "token", "secretName": "mine"}, False),
        ({"mode": "token", "enableK8sTokenAuth": True}, False),
    ],
)
def test_a_secret_is_made_only_for_token_auth_without_one(auth: dict[str, Any] | None, needed: bool) -> None:
    assert needs_auth_secret(cluster(auth)) is needed


def test_the_secret_is_named_after_the_cluster_with_the_token_under_auth_token() -> None:
    secret = build_auth_secret(cluster({"mode": "token"}), "dG9rZW4=")
    assert secret["metadata"] == {"name": "demo", "namespace": "ns", "labels": {"ray.io/cluster": "demo"}}
    assert secret["stringData"] == {"auth_token": "dG9rZW4="}
