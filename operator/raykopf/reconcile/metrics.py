"""KubeRay's custom metrics (reference §3.2) computed from the objects as they are now (pure).

KubeRay sets gauges as objects change and deletes them on deletion; computing them from the cached
objects at scrape time gives the same series and can never leave a deleted object's series behind.
"""

from __future__ import annotations

from typing import Any

from raykopf import constants as c
from raykopf.reconcile.conditions import find, is_true
from raykopf.reconcile.times import parse

Sample = tuple[str, dict[str, str], float]


def _identity(body: dict[str, Any]) -> dict[str, str]:
    meta = body["metadata"]
    return {"name": meta["name"], "namespace": meta["namespace"], "uid": meta.get("uid", "")}


def _conditions(body: dict[str, Any]) -> list[dict[str, Any]]:
    return list((body.get("status") or {}).get("conditions") or [])


def _is_true(body: dict[str, Any], kind: str) -> str:
    return "true" if is_true(_conditions(body), kind) else "false"


def cluster_samples(body: dict[str, Any]) -> list[Sample]:
    ids = _identity(body)
    owner = (body["metadata"].get("labels") or {}).get(c.RAY_ORIGINATED_FROM_CRD_LABEL) or "None"
    samples: list[Sample] = [
        ("kuberay_cluster_info", {**ids, "owner_kind": owner}, 1.0),
        (
            "kuberay_cluster_condition_provisioned",
            {**ids, "condition": _is_true(body, "RayClusterProvisioned")},
            1.0,
        ),
    ]
    provisioned = find(_conditions(body), "RayClusterProvisioned")
    created = parse(body["metadata"].get("creationTimestamp"))
    if provisioned and provisioned.get("status") == "True" and created:
        at = parse(provisioned.get("lastTransitionTime"))
        if at:
            seconds = (at - created).total_seconds()
            samples.append(("kuberay_cluster_provisioned_duration_seconds", ids, max(0.0, seconds)))
    return samples


def job_samples(body: dict[str, Any]) -> list[Sample]:
    ids = _identity(body)
    status = body.get("status") or {}
    deployment = status.get("jobDeploymentStatus") or "New"
    samples: list[Sample] = [
        ("kuberay_job_info", ids, 1.0),
        ("kuberay_job_deployment_status", {**ids, "deployment_status": deployment}, 1.0),
    ]
    started, ended = parse(status.get("startTime")), parse(status.get("endTime"))
    if deployment in ("Complete", "Failed") and started and ended:
        labels = {**ids, "job_deployment_status": deployment, "retry_count": str(status.get("failed") or 0)}
        samples.append(("kuberay_job_execution_duration_seconds", labels, (ended - started).total_seconds()))
    return samples


def service_samples(body: dict[str, Any]) -> list[Sample]:
    ids = _identity(body)
    return [
        ("kuberay_service_info", ids, 1.0),
        ("kuberay_service_condition_ready", {**ids, "condition": _is_true(body, "Ready")}, 1.0),
        (
            "kuberay_service_condition_upgrade_in_progress",
            {**ids, "condition": _is_true(body, "UpgradeInProgress")},
            1.0,
        ),
    ]


HELP = {
    "kuberay_cluster_info": "Metadata information about RayCluster custom resources.",
    "kuberay_cluster_condition_provisioned": "Whether the RayCluster is provisioned (RayClusterProvisioned).",
    "kuberay_cluster_provisioned_duration_seconds": "Seconds from a RayCluster's creation to RayClusterProvisioned.",
    "kuberay_job_info": "Metadata information about RayJob custom resources.",
    "kuberay_job_deployment_status": "The RayJob's current deployment status.",
    "kuberay_job_execution_duration_seconds": "Seconds from a RayJob's start to Complete or Failed.",
    "kuberay_service_info": "Metadata information about RayService custom resources.",
    "kuberay_service_condition_ready": "Whether the RayService is Ready.",
    "kuberay_service_condition_upgrade_in_progress": "Whether the RayService is upgrading to a new cluster.",
}
