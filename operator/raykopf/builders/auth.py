"""The Ray auth token Secret (≙ RayClusterReconciler.reconcileAuthSecret and createAuthSecret)."""

from __future__ import annotations

from typing import Any

from raykopf import constants as c
from raykopf import naming
from raykopf.api.raycluster import RayCluster


def needs_auth_secret(cluster: RayCluster) -> bool:
    """Token auth with neither a user's Secret (`secretName`) nor Kubernetes token auth."""
    auth = cluster.spec.auth_options
    return (
        auth is not None and auth.mode == "token" and not auth.enable_k8s_token_auth and not auth.secret_name
    )


def build_auth_secret(cluster: RayCluster, token: str) -> dict[str, Any]:
    """`<cluster>` with key `auth_token`, labelled with the cluster (KubeRay's token: 32 random bytes,
    base64; the caller draws it, so that the builder stays pure)."""
    name = cluster.metadata.name or ""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": naming.check_name(name),
            "namespace": cluster.metadata.namespace,
            "labels": {c.RAY_CLUSTER_LABEL: name},
        },
        "stringData": {c.RAY_AUTH_TOKEN_SECRET_KEY: token},
    }
