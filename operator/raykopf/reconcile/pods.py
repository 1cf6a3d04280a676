"""Reading the state of Pods (pure)."""

from __future__ import annotations

from typing import Any

from raykopf import constants as c


def is_terminating(pod: dict[str, Any]) -> bool:
    return bool(pod.get("metadata", {}).get("deletionTimestamp"))


def phase(pod: dict[str, Any]) -> str:
    return str(pod.get("status", {}).get("phase", "Pending"))


def is_ready(pod: dict[str, Any]) -> bool:
    return phase(pod) == "Running" and any(
        cond.get("type") == "Ready" and cond.get("status") == "True"
        for cond in pod.get("status", {}).get("conditions") or []
    )


def ray_container_terminated(pod: dict[str, Any]) -> bool:
    statuses = pod.get("status", {}).get("containerStatuses") or []
    ray_name = ((pod.get("spec", {}).get("containers") or [{}])[c.RAY_CONTAINER_INDEX]).get("name")
    return any(s.get("name") == ray_name and "terminated" in (s.get("state") or {}) for s in statuses)


def should_delete(pod: dict[str, Any]) -> tuple[bool, str]:
    """KubeRay's unhealthy-pod rule: a finished Pod, or a Ray container that terminated under restartPolicy Never."""
    current = phase(pod)
    if current in ("Failed", "Succeeded"):
        return True, f"the Pod's phase is {current}"
    if pod.get("spec", {}).get("restartPolicy") == "Never" and ray_container_terminated(pod):
        return True, "the Ray container terminated and the restartPolicy is Never"
    return False, ""


def node_type(pod: dict[str, Any]) -> str | None:
    return (pod.get("metadata", {}).get("labels") or {}).get(c.RAY_NODE_TYPE_LABEL)


def group(pod: dict[str, Any]) -> str | None:
    return (pod.get("metadata", {}).get("labels") or {}).get(c.RAY_NODE_GROUP_LABEL)


def name(pod: dict[str, Any]) -> str:
    return str(pod.get("metadata", {}).get("name", ""))
