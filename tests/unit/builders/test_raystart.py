"""`ray start` generation: KubeRay's flag rules and resource inference."""

from __future__ import annotations

from typing import Any

import pytest

from raykopf.builders import raystart


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param(
            {"num-cpus": "1", "block": "true"},
            " --block  --num-cpus=1 ",
            id="true is a bare flag, keys sorted",
        ),
        pytest.param({"disable-usage-stats": "false"}, "", id="false drops the flag"),
        pytest.param(
            {"log-color": "false", "include-dashboard": "true"},
            " --include-dashboard=true  --log-color=false ",
            id="valued booleans keep their value",
        ),
        pytest.param(
            {"include-log-monitor": "False"}, " --include-log-monitor=False ", id="include-log-monitor too"
        ),
        pytest.param({"resources": "'{\"a\":1}'"}, " --resources='{\"a\":1}' ", id="values pass through"),
    ],
)
def test_flags(params: dict[str, str], expected: str) -> None:
    # KubeRay pads each flag with a space on both sides (common.convertParamMap; seen in its Pods).
    assert raystart.flags(params) == expected


@pytest.mark.parametrize(
    ("resources", "params", "expected"),
    [
        pytest.param(
            {"limits": {"cpu": "500m", "memory": "2Gi"}},
            {},
            {"num-cpus": "1", "memory": "2147483648"},
            id="cpu rounds up, memory in bytes from the limit",
        ),
        pytest.param(
            {"requests": {"cpu": "2", "memory": "1Gi"}},
            {},
            {"num-cpus": "2"},
            id="cpu falls back to the request, memory does not",
        ),
        pytest.param(
            {"limits": {"cpu": "4"}}, {"num-cpus": "0"}, {"num-cpus": "0"}, id="explicit params win"
        ),
        pytest.param({"limits": {"nvidia.com/gpu": "2"}}, {}, {"num-gpus": "2"}, id="any *gpu limit"),
        pytest.param(
            {"limits": {"google.com/tpu": "4"}},
            {},
            {"resources": "'{\"TPU\":4}'"},
            id="TPU as a custom resource",
        ),
    ],
)
def test_resources_are_inferred_from_the_container(
    resources: dict[str, Any], params: dict[str, str], expected: dict[str, str]
) -> None:
    raystart.infer_resources(params, resources)
    assert params == expected


def test_group_resources_and_labels_override_params() -> None:
    params = {"num-cpus": "8"}
    raystart.apply_group_resources(params, {"CPU": "2", "GPU": "1", "memory": "1000", "accel": "3"})
    raystart.apply_group_labels(params, {"zone": "a", "tier": "b"})
    assert params == {
        "num-cpus": "2",
        "num-gpus": "1",
        "memory": "1000",
        "resources": "'{\"accel\":3}'",
        "labels": "tier=b,zone=a",
    }


def test_missing_params_for_head_and_worker() -> None:
    head: dict[str, str] = {"block": "false"}
    raystart.set_missing_params(head, "head", head_address="")
    assert head == {
        "block": "true",
        "dashboard-host": "0.0.0.0",
        "metrics-export-port": "8080",
        "dashboard-agent-listen-port": "52365",
    }
    worker: dict[str, str] = {}
    raystart.set_missing_params(worker, "worker", head_address="svc.ns.svc.cluster.local:6379")
    assert worker["address"] == "svc.ns.svc.cluster.local:6379"
    assert "dashboard-host" not in worker
