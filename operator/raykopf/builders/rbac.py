"""The autoscaler's ServiceAccount, Role and RoleBinding (≙ common.BuildServiceAccount, BuildRole,
BuildRoleBinding): exactly the verbs Ray's KubeRay autoscaler uses."""

from __future__ import annotations

from typing import Any

from raykopf import constants as c
from raykopf import naming
from raykopf.api.raycluster import RayCluster

AUTOSCALER_RULES = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "patch"]},
    {"apiGroups": [""], "resources": ["pods/resize"], "verbs": ["patch"]},
    {"apiGroups": ["ray.io"], "resources": ["rayclusters"], "verbs": ["get", "patch"]},
]


def autoscaler_service_account_name(cluster: RayCluster) -> str:
    """The head template's serviceAccountName if set, otherwise the cluster's name."""
    custom = cluster.spec.head_group_spec.template.get("spec", {}).get("serviceAccountName")
    return naming.check_name(custom or cluster.metadata.name or "")


def _meta(cluster: RayCluster, name: str) -> dict[str, Any]:
    labels = {
        c.RAY_CLUSTER_LABEL: cluster.metadata.name or "",
        c.K8S_APP_NAME_LABEL: c.APPLICATION_NAME,
        c.K8S_CREATED_BY_LABEL: c.COMPONENT_NAME,
    }
    return {"name": name, "namespace": cluster.metadata.namespace, "labels": labels}


def build_service_account(cluster: RayCluster) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(cluster, autoscaler_service_account_name(cluster)),
    }


def build_role(cluster: RayCluster) -> dict[str, Any]:
    name = naming.check_name(cluster.metadata.name or "")
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(cluster, name),
        "rules": [dict(rule) for rule in AUTOSCALER_RULES],
    }


def build_role_binding(cluster: RayCluster) -> dict[str, Any]:
    name = naming.check_name(cluster.metadata.name or "")
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(cluster, name),
        "subjects": [
            {
                "kind": "ServiceAccount",
                "name": autoscaler_service_account_name(cluster),
                "namespace": cluster.metadata.namespace,
            }
        ],
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
    }
