"""Standard labels and owner references (≙ common.labelPod)."""

from __future__ import annotations

from typing import Any

from raykopf import constants as c
from raykopf.naming import identifier

# Labels users cannot override on Ray Pods.
PROTECTED = (c.RAY_NODE_TYPE_LABEL, c.RAY_NODE_GROUP_LABEL, c.RAY_CLUSTER_LABEL)


def pod_labels(
    node_type: str, cluster: str, group: str, user_labels: dict[str, str] | None
) -> dict[str, str]:
    labels = {
        c.RAY_NODE_LABEL: "yes",
        c.RAY_CLUSTER_LABEL: cluster,
        c.RAY_NODE_TYPE_LABEL: node_type,
        c.RAY_NODE_GROUP_LABEL: group,
        c.RAY_ID_LABEL: identifier(cluster, node_type),
        c.K8S_APP_NAME_LABEL: c.APPLICATION_NAME,
        c.K8S_CREATED_BY_LABEL: c.COMPONENT_NAME,
    }
    for key, value in (user_labels or {}).items():
        if key not in PROTECTED:
            labels[key] = value
    return labels


def head_selector(cluster: str) -> dict[str, str]:
    """The head Service's selector (≙ common.BuildServiceForHeadPod)."""
    return {
        c.RAY_CLUSTER_LABEL: cluster,
        c.RAY_NODE_TYPE_LABEL: c.HEAD_NODE,
        c.RAY_ID_LABEL: identifier(cluster, c.HEAD_NODE),
        c.K8S_APP_NAME_LABEL: c.APPLICATION_NAME,
        c.K8S_CREATED_BY_LABEL: c.COMPONENT_NAME,
    }


def owned_by(body: dict[str, Any], *, name: str, uid: str | None, kind: str = "RayCluster") -> dict[str, Any]:
    """`body` with a controller owner reference, so that deleting the owner garbage-collects it."""
    body["metadata"]["ownerReferences"] = [
        owner_reference({"metadata": {"name": name, "uid": uid}}, kind=kind)
    ]
    return body


def owner_reference(owner: dict[str, Any], *, kind: str, api_version: str = "ray.io/v1") -> dict[str, Any]:
    """A controller owner reference, so that deleting the owner garbage-collects the child."""
    meta = owner.get("metadata") or {}
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "controller": True,
        "blockOwnerDeletion": True,
    }
