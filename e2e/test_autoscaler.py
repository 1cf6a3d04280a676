"""Ray's own autoscaler (v1 and v2) in the head Pod scales a worker group through the RayCluster, using the
ServiceAccount and Role the operator created; the operator deletes exactly the Pods it names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.conftest import ROOT, Kubectl, wait_for
from e2e.ray_jobs import submit_job, wait_job
from e2e.test_raycluster import raycluster

SAMPLE = ROOT / "manifests" / "samples" / "raycluster.autoscaler.yaml"
NAME = "raycluster-autoscaler"


def workers(kubectl: Kubectl, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = kubectl.json(
        "get", "pods", "-n", namespace, "-l", f"ray.io/cluster={NAME},ray.io/node-type=worker"
    )["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.pod_network
def test_autoscaler_scales_up_for_a_job_and_back_down_when_idle(
    version: str, kubectl: Kubectl, namespace: str, operator: Path
) -> None:
    manifest = yaml.safe_load(SAMPLE.read_text())
    manifest["spec"]["autoscalerOptions"]["version"] = version
    kubectl.apply(yaml.safe_dump(manifest), namespace)
    wait_for(
        lambda: raycluster(kubectl, namespace, NAME).get("status", {}).get("state") == "ready",
        180,
        "ready",
        interval=2,
    )
    head = kubectl.json("get", "pods", "-n", namespace, "-l", f"ray.io/cluster={NAME},ray.io/node-type=head")[
        "items"
    ][0]
    assert [c["name"] for c in head["spec"]["containers"]] == ["ray-head", "autoscaler"]
    v2_env = next(
        e["value"] for e in head["spec"]["containers"][0]["env"] if e["name"] == "RAY_enable_autoscaler_v2"
    )
    assert v2_env == ("true" if version == "v2" else "false")
    assert head["spec"]["serviceAccountName"] == NAME
    head_ip = head["status"]["podIP"]
    entrypoint = (
        'python -c "import ray, time; ray.init(); '
        "f = ray.remote(num_cpus=1)(lambda: (time.sleep(5), ray.util.get_node_ip_address())[1]); "
        "print('ran on', sorted(set(ray.get([f.remote() for _ in range(2)]))))\""
    )
    job = submit_job(head_ip, entrypoint)
    # The head has no CPUs: the autoscaler must raise replicas, and the operator must create workers.
    wait_for(
        lambda: (
            (raycluster(kubectl, namespace, NAME)["spec"]["workerGroupSpecs"][0].get("replicas") or 0) >= 1
        ),
        120,
        "the autoscaler to raise replicas",
        interval=2,
    )
    wait_for(lambda: len(workers(kubectl, namespace)) >= 1, 60, "worker Pods", interval=2)

    status, logs = wait_job(head_ip, job, 240)
    assert status == "SUCCEEDED", logs
    # Idle for idleTimeoutSeconds (30): the autoscaler names the workers to delete and lowers replicas.
    wait_for(lambda: workers(kubectl, namespace) == [], 180, "the idle workers to be removed", interval=3)
    spec = raycluster(kubectl, namespace, NAME)["spec"]["workerGroupSpecs"][0]
    assert spec.get("replicas") == 0
