"""A failed pass on the status: written where each kind shows it, in fields KubeRay's own CRDs keep
(so the words survive its schema's pruning), never over a failed job's message, and taken back by the
next clean pass without touching anything else."""

from __future__ import annotations

from typing import Any

import pytest

from raykopf.reconcile import failure
from tests.compat.upstream import upstream_crd

NOW = "2026-12-03T00:00:00Z"
TEXT = 'ApiError: 403 Forbidden: rayclusters.ray.io "x" is forbidden: exceeded quota: q'
PLURALS = {"RayCluster": "rayclusters", "RayJob": "rayjobs", "RayService": "rayservices"}


def pruned(value: Any, schema: dict[str, Any]) -> Any:
    """`value` as a structural schema keeps it (unknown fields dropped), as the apiserver stores it."""
    if isinstance(value, dict) and "properties" in schema:
        return {k: pruned(v, schema["properties"][k]) for k, v in value.items() if k in schema["properties"]}
    if isinstance(value, list) and "items" in schema:
        return [pruned(v, schema["items"]) for v in value]
    return value


def kuberay_status_schema(kind: str) -> dict[str, Any]:
    crd = upstream_crd(PLURALS[kind])
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    return schema


PREVIOUS = {
    "RayCluster": {"state": "", "conditions": [], "observedGeneration": 1},
    "RayJob": {"jobDeploymentStatus": "Initializing", "rayClusterName": "job-abcde"},
    "RayService": {
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "NonZeroServeEndpoints",
                "message": "",
                "lastTransitionTime": NOW,
            }
        ],
        "serviceStatus": "Running",
    },
}


@pytest.mark.parametrize("kind", list(PREVIOUS))
def test_the_failure_is_kept_by_kuberays_schema_and_cleared_to_what_was_there(kind: str) -> None:
    previous = PREVIOUS[kind]
    recorded = failure.record(kind, previous, TEXT, NOW)
    assert recorded != previous
    assert pruned(recorded, kuberay_status_schema(kind)) == recorded
    assert "exceeded quota" in str(recorded)
    assert failure.clear(kind, recorded) == previous
    assert failure.clear(kind, previous) is None  # nothing of ours: no write


def test_each_kind_says_it_where_its_users_look() -> None:
    assert failure.record("RayCluster", {}, TEXT, NOW) == {"reason": f"ReconcileError: {TEXT}"}
    assert failure.record("RayJob", {}, TEXT, NOW) == {"message": f"ReconcileError: {TEXT}"}
    service = failure.record("RayService", PREVIOUS["RayService"], TEXT, NOW)
    ready, failed = service["conditions"]
    assert ready == PREVIOUS["RayService"]["conditions"][0]  # still serving: Ready is not touched
    assert failed == {
        "type": "ReconcileFailure",
        "status": "True",
        "reason": "ReconcileError",
        "message": TEXT,
        "lastTransitionTime": NOW,
    }


def test_a_failed_jobs_message_and_reason_are_never_overwritten() -> None:
    status = {"jobDeploymentStatus": "Failed", "reason": "AppFailed", "message": "Job failed: exit 1"}
    assert failure.record("RayJob", status, TEXT, NOW) == status
    assert failure.clear("RayJob", status) is None


def test_a_new_failure_replaces_the_last_one_and_keeps_its_transition_time() -> None:
    first = failure.record("RayService", {}, "ApiError: 403", NOW)
    second = failure.record("RayService", first, "ApiError: 500", "2026-12-03T00:05:00Z")
    (condition,) = second["conditions"]
    assert (condition["message"], condition["lastTransitionTime"]) == ("ApiError: 500", NOW)
    job = failure.record("RayJob", failure.record("RayJob", {}, "ApiError: 403", NOW), "ApiError: 500", NOW)
    assert job == {"message": "ReconcileError: ApiError: 500"}
    assert failure.clear("RayService", second) == {}


def test_a_clean_pass_keeps_a_reason_that_is_not_a_reconcile_error() -> None:
    invalid = {"reason": "InvalidRayClusterSpec: spec.headGroupSpec: required"}
    assert failure.clear("RayCluster", invalid) is None
