"""KubeRay's Go unit tests of worker counts (ray-operator/controllers/ray/utils/util_test.go:
TestGetWorkerGroupDesiredReplicas, TestCalculateMinAndMaxReplicas, TestCalculateDesiredReplicas,
TestCalculateMaxReplicasOverflow), their inputs and expected values ported as they are."""

from __future__ import annotations

from typing import Any

import pytest

from raykopf.api import RayCluster
from raykopf.reconcile.raycluster import Observed, effective_replicas
from raykopf.reconcile.status import next_status

MAX_INT32 = 2147483647
TEMPLATE = {"spec": {"containers": [{"name": "ray-worker"}]}}


def group(**fields: Any) -> dict[str, Any]:
    return {"groupName": fields.pop("groupName", "g"), "template": TEMPLATE, **fields}


def cluster(*groups: dict[str, Any]) -> RayCluster:
    return RayCluster.model_validate(
        {
            "metadata": {"name": "c", "namespace": "ns", "generation": 1},
            "spec": {
                "headGroupSpec": {"template": {"spec": {"containers": [{"name": "ray-head"}]}}},
                "workerGroupSpecs": list(groups),
            },
        }
    )


def counters(*groups: dict[str, Any]) -> tuple[int, int, int]:
    """(desired, min, max) workers as the status reports them; an omitted zero counts as 0."""
    status = next_status(cluster(*groups), Observed(), now="2026-12-02T00:00:00Z").to_dict()
    return (
        status.get("desiredWorkerReplicas", 0),
        status.get("minWorkerReplicas", 0),
        status.get("maxWorkerReplicas", 0),
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"numOfHosts": 1, "minReplicas": 1, "maxReplicas": 5}, 1),  # Replicas nil: minReplicas
        ({"numOfHosts": 1, "minReplicas": 1, "maxReplicas": 5, "replicas": 3}, 3),  # within range
        ({"numOfHosts": 1, "minReplicas": 1, "maxReplicas": 5, "replicas": 6}, 5),  # above max
        ({"numOfHosts": 1, "minReplicas": 1, "maxReplicas": 5, "replicas": 0}, 1),  # below min
        ({"numOfHosts": 1, "minReplicas": 5, "maxReplicas": 1, "replicas": 0, "suspend": True}, 0),
        ({"numOfHosts": 4, "minReplicas": 1, "maxReplicas": 5, "replicas": 5, "suspend": False}, 20),
    ],
)
def test_get_worker_group_desired_replicas(fields: dict[str, Any], expected: int) -> None:
    assert effective_replicas(cluster(group(**fields)).spec.worker_group_specs[0]) == expected


@pytest.mark.parametrize(
    ("groups", "expected_min", "expected_max"),
    [
        ([group(numOfHosts=1, minReplicas=2, maxReplicas=3)], 2, 3),
        ([group(numOfHosts=4, minReplicas=2, maxReplicas=3)], 8, 12),
        (
            [
                group(groupName="a", numOfHosts=1, minReplicas=4, maxReplicas=4),
                group(groupName="b", numOfHosts=2, minReplicas=3, maxReplicas=3),
            ],
            10,
            10,
        ),
        (
            [
                group(groupName="a", numOfHosts=1, minReplicas=3, maxReplicas=3, suspend=True),
                group(groupName="b", numOfHosts=1, minReplicas=1, maxReplicas=1, suspend=True),
            ],
            0,
            0,
        ),
    ],
)
def test_calculate_min_and_max_replicas(
    groups: list[dict[str, Any]], expected_min: int, expected_max: int
) -> None:
    _, low, high = counters(*groups)
    assert (low, high) == (expected_min, expected_max)


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (
            {"numOfHosts": 1, "minReplicas": 1, "maxReplicas": 5},
            {"numOfHosts": 1, "minReplicas": 2, "maxReplicas": 5},
            3,
        ),
        (
            {"replicas": 0, "numOfHosts": 1, "minReplicas": 2, "maxReplicas": 5},
            {"replicas": 6, "numOfHosts": 1, "minReplicas": 2, "maxReplicas": 5},
            7,
        ),
        (
            {"replicas": 6, "numOfHosts": 1, "minReplicas": 2, "maxReplicas": 5},
            {"replicas": 3, "numOfHosts": 1, "minReplicas": 2, "maxReplicas": 5},
            8,
        ),
        (
            {"replicas": 3, "numOfHosts": 4, "minReplicas": 1, "maxReplicas": 6},
            {"replicas": 3, "numOfHosts": 1, "minReplicas": 2, "maxReplicas": 5},
            15,
        ),
    ],
)
def test_calculate_desired_replicas(first: dict[str, Any], second: dict[str, Any], expected: int) -> None:
    desired, _, _ = counters(group(groupName="group1", **first), group(groupName="group2", **second))
    assert desired == expected


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ([group(replicas=1, minReplicas=3, maxReplicas=MAX_INT32, numOfHosts=4)], MAX_INT32),
        ([group(numOfHosts=4, minReplicas=3, maxReplicas=MAX_INT32)], MAX_INT32),
        ([group(numOfHosts=1000, minReplicas=1, maxReplicas=MAX_INT32)], MAX_INT32),
        (
            [
                group(groupName="a", numOfHosts=2, minReplicas=1, maxReplicas=1500000000),
                group(groupName="b", numOfHosts=1, minReplicas=1, maxReplicas=1000000000),
            ],
            MAX_INT32,
        ),
        ([group(numOfHosts=4, minReplicas=2, maxReplicas=100)], 400),
        ([group(numOfHosts=1, minReplicas=1, maxReplicas=MAX_INT32)], MAX_INT32),
    ],
)
def test_calculate_max_replicas_overflow(groups: list[dict[str, Any]], expected: int) -> None:
    assert counters(*groups)[2] == expected
