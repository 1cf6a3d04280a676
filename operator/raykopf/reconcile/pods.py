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


def _keep(source: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: source[k] for k in keys if k in source}


def slim_pod(pod: dict[str, Any]) -> dict[str, Any]:
    """Only what the planners and the status read, so a cache of thousands of Pods stays small."""
    status = pod.get("status") or {}
    slim_status = _keep(status, ("phase", "podIP", "reason", "message"))
    # Only Ready, and why a Pod cannot be scheduled (a RayJob reports it): the other scheduling and
    # initialisation steps would wake the cluster for nothing.
    slim_status["conditions"] = [
        _keep(x, ("type", "status")) for x in status.get("conditions") or [] if x.get("type") == "Ready"
    ] + [
        _keep(x, ("type", "status", "reason", "message"))
        for x in status.get("conditions") or []
        if x.get("type") == "PodScheduled" and x.get("status") == "False"
    ]
    slim_status["containerStatuses"] = [
        {"name": s.get("name"), "restartCount": s.get("restartCount", 0), "state": s.get("state") or {}}
        for s in status.get("containerStatuses") or []
    ]
    spec = pod.get("spec") or {}
    return {
        "metadata": _keep(
            pod.get("metadata") or {},
            ("name", "namespace", "uid", "labels", "annotations", "resourceVersion", "deletionTimestamp"),
        ),
        "spec": {
            **_keep(spec, ("restartPolicy",)),
            "containers": [{"name": x.get("name")} for x in spec.get("containers") or []],
        },
        "status": slim_status,
    }


def slim_service(service: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": _keep(
            service.get("metadata") or {}, ("name", "namespace", "uid", "labels", "resourceVersion")
        ),
        "spec": _keep(service.get("spec") or {}, ("type", "clusterIP", "ports", "selector")),
    }


def slim_job(job: dict[str, Any]) -> dict[str, Any]:
    """A submitter batch Job: its conditions say whether (and when) the submitter finished."""
    status = job.get("status") or {}
    return {
        "metadata": _keep(
            job.get("metadata") or {},
            ("name", "namespace", "uid", "labels", "resourceVersion", "deletionTimestamp"),
        ),
        "status": {
            **_keep(status, ("active", "succeeded", "failed", "startTime", "completionTime")),
            "conditions": [
                _keep(x, ("type", "status", "reason", "message", "lastTransitionTime"))
                for x in status.get("conditions") or []
            ],
        },
    }
