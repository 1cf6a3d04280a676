"""Minimal valid manifests that the validation tests break one field at a time."""

from __future__ import annotations

from typing import Any


def container(name: str = "ray", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "rayproject/ray:2.60.0", **extra}


def cluster_spec() -> dict[str, Any]:
    return {
        "rayVersion": "2.60.0",
        "headGroupSpec": {
            "rayStartParams": {},
            "template": {"spec": {"containers": [container("ray-head")]}},
        },
        "workerGroupSpecs": [
            {
                "groupName": "small",
                "replicas": 1,
                "minReplicas": 0,
                "maxReplicas": 3,
                "rayStartParams": {},
                "template": {"spec": {"containers": [container("ray-worker")]}},
            }
        ],
    }


def raycluster() -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "demo"},
        "spec": cluster_spec(),
    }


def rayjob() -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": "job"},
        "spec": {"entrypoint": "python -c 'print(1)'", "rayClusterSpec": cluster_spec()},
    }


def rayservice() -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {"name": "svc"},
        "spec": {"serveConfigV2": "applications: []\n", "rayClusterConfig": cluster_spec()},
    }
