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


# KubeRay v1.6.1's TestGenerateRayStartCommand (controllers/ray/common/pod_test.go): inputs and the
# exact command lines its generateRayStartCommand returns.
KUBERAY_GENERATE_RAY_START_COMMAND = [
    ("worker", {}, {"nvidia.com/gpu": "1"}, "ray start  --num-gpus=1 "),
    ("worker", {}, {"nvidia.com/mig-2g.32gb": "1"}, "ray start  --num-gpus=1 "),
    ("worker", {}, {"google.com/tpu": "4"}, """ray start  --resources='{"TPU":4}' """),
    (
        "head",
        {},
        {"aws.amazon.com/neuroncore": "4"},
        """ray start --head  --resources='{"neuron_cores":4}' """,
    ),
    (
        "head",
        {},
        {"aws.amazon.com/neuroncore": "4", "nvidia.com/gpu": "1"},
        """ray start --head  --num-gpus=1  --resources='{"neuron_cores":4}' """,
    ),
    (
        "head",
        {},
        {"google.com/tpu": "8", "aws.amazon.com/neuroncore": "4", "nvidia.com/gpu": "1"},
        """ray start --head  --num-gpus=1  --resources='{"neuron_cores":4}' """,
    ),
    (
        "head",
        {"resources": '"{"custom_resource":2}"'},
        {"aws.amazon.com/neuroncore": "4"},
        """ray start --head  --resources='{"custom_resource":2,"neuron_cores":4}' """,
    ),
    (
        "head",
        {"resources": """'{"custom_resource":2,"neuron_cores":3}'"""},
        {"aws.amazon.com/neuroncore": "4"},
        """ray start --head  --resources='{"custom_resource":2,"neuron_cores":3}' """,
    ),
    (
        "head",
        {"resources": """'{"custom_resource":2,"TPU":4}'"""},
        {"google.com/tpu": "8"},
        """ray start --head  --resources='{"custom_resource":2,"TPU":4}' """,
    ),
    ("head", {"resources": "{"}, {"aws.amazon.com/neuroncore": "4"}, "ray start --head  --resources={ "),
]


@pytest.mark.parametrize(("node_type", "params", "limits", "expected"), KUBERAY_GENERATE_RAY_START_COMMAND)
def test_ray_start_lines_are_kuberays_byte_for_byte(
    node_type: str, params: dict[str, str], limits: dict[str, str], expected: str
) -> None:
    params = dict(params)
    raystart.infer_resources(params, {"limits": limits})
    assert raystart.ray_start_command(node_type, params) == expected


# KubeRay v1.6.1's TestUpdateRayStartParamsResources and TestUpdateRayStartParamsLabels
# (controllers/ray/common/pod_test.go): the group `resources` and `labels` fields over rayStartParams.
@pytest.mark.parametrize(
    ("initial", "resources", "expected"),
    [
        ({"existing": "true"}, None, {"existing": "true"}),
        ({}, {"cpu": "2", "memory": "4Gi"}, {"num-cpus": "2", "memory": "4294967296"}),
        ({}, {"CPU": "2", "GPU": "4"}, {"num-cpus": "2", "num-gpus": "4"}),
        ({}, {"nvidia.com/gpu": "1", "TPU": "4"}, {"num-gpus": "1", "resources": """'{"TPU":4}'"""}),
        (
            {"num-cpus": "1", "memory": "1000", "resources": """'{"Custom-Resource": 10}'"""},
            {"cpu": "4", "Custom-Resource": "5"},
            {"num-cpus": "4", "memory": "1000", "resources": """'{"Custom-Resource":5}'"""},
        ),
    ],
)
def test_group_resources_as_kuberay(
    initial: dict[str, str], resources: dict[str, str] | None, expected: dict[str, str]
) -> None:
    params = dict(initial)
    raystart.apply_group_resources(params, resources)
    assert params == expected


@pytest.mark.parametrize(
    ("initial", "labels", "expected"),
    [
        (
            {},
            {
                "topology.kubernetes.io/zone": "us-central2",
                "ray.io/node-group": "worker-group-1",
                "cloud.google.com/gke-spot": "true",
            },
            {
                "labels": "cloud.google.com/gke-spot=true,ray.io/node-group=worker-group-1,"
                "topology.kubernetes.io/zone=us-central2"
            },
        ),
        (
            {"labels": "old=label,to-be=replaced", "resources": "some-resources"},
            {"new": "label"},
            {"labels": "new=label", "resources": "some-resources"},
        ),
        ({"labels": "some=labels"}, None, {"labels": "some=labels"}),
        ({"labels": "some=labels"}, {}, {"labels": "some=labels"}),
    ],
)
def test_group_labels_as_kuberay(
    initial: dict[str, str], labels: dict[str, str] | None, expected: dict[str, str]
) -> None:
    params = dict(initial)
    raystart.apply_group_labels(params, labels)
    assert params == expected
