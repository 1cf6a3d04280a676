"""KubeRay's Go unit tests of names (ray-operator/controllers/ray/utils/util_test.go: TestCheckName,
TestWorkerPodName, TestHeadPodName), their inputs and expected values ported as they are."""

from __future__ import annotations

import pytest

from raykopf import naming

MAX_GENERATED_PREFIX = 58  # 63, the longest Pod name, less the apiserver's 5 random characters


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "72fbcc7e-a661-4b18e-ca41-e903-fc3ae634b18e-lazer090scholar-director-s",
            "rca41-e903-fc3ae634b18e-lazer090scholar-director-s",
        ),
        (
            "--------566666--------444433-----------222222----------4444",
            "r6666--------444433-----------222222----------4444",
        ),
        ("acceptable-name-head-12345", "acceptable-name-head-12345"),
    ],
)
def test_check_name(given: str, expected: str) -> None:
    assert naming.check_name(given) == expected


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("ray-cluster-group-name-01", "ray-cluster-group-name-01-worker-"),
        (
            "ray-cluster-0000000000000000000000011111111122222233333333333333-group-name",
            "ray-cluster-00000000000000000000000111111111222222-worker-",
        ),
    ],
)
def test_worker_pod_name(prefix: str, expected: str) -> None:
    name = naming.pod_name(prefix, "worker", generated=True)
    assert name == expected
    assert len(name) <= MAX_GENERATED_PREFIX


LONG = "ray-cluster-0000000000000000000000011111111122222233333333333333"


@pytest.mark.parametrize(
    ("cluster", "deterministic", "expected"),
    [
        ("ray-cluster-01", True, "ray-cluster-01-head"),
        ("ray-cluster-01", False, "ray-cluster-01-head-"),
        (LONG, True, "ray-cluster-00000000000000000000000111111111222222-head"),
        (LONG, False, "ray-cluster-00000000000000000000000111111111222222-head-"),
    ],
)
def test_head_pod_name(cluster: str, deterministic: bool, expected: str) -> None:
    name = naming.head_pod_name(cluster) if deterministic else naming.head_pod_prefix(cluster)
    assert name == expected
    assert len(name) <= MAX_GENERATED_PREFIX
