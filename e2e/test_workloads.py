"""The workloads users run KubeRay for, from the repository's samples, with real Ray libraries and
real data: a Ray Tune search trains a model; Ray Data batch inference and a Ray Serve application
under load (Serve and Ray's autoscaler adding replicas and worker Pods, a model update in place)
use it; the Ray Core primer. The smallest form of each: bench/workloads.py measures them."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e import workloads
from e2e.conftest import Kubectl, wait_for


@pytest.fixture
def models(namespace: str) -> Iterator[Path]:
    folder = Path("/var/lib/raykopf-samples") / f"e2e-{namespace}"
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.local_only("the samples share the model through a hostPath volume: one node's disk")
@pytest.mark.timeout(900)
def test_a_trained_model_serves_batch_inference_and_autoscaled_traffic(
    kubectl: Kubectl, namespace: str, operator: Path, models: Path
) -> None:
    train = workloads.with_models(workloads.documents("digits-train.yaml"), models)
    workloads.apply(kubectl, namespace, workloads.without_ttl(train))
    trained = workloads.wait_rayjob_ended(kubectl, namespace, "digits-train", 480)
    log = kubectl("logs", "-n", namespace, "job/digits-train")
    assert trained["jobStatus"] == "SUCCEEDED", log[-3000:]
    assert "9 trials on 2 nodes" in log  # the search ran on both workers
    accuracy = re.search(r"test accuracy: ([0-9.]+)", log)
    assert accuracy, log[-3000:]
    assert float(accuracy.group(1)) > 0.95
    assert (models / "model.pkl").stat().st_size > 0

    # Both read that model: batch inference runs while the Serve application starts.
    batch = workloads.with_models(workloads.documents("digits-batch-inference.yaml"), models)
    serving = workloads.with_models(workloads.documents("digits-serve.yaml"), models)
    workloads.apply(kubectl, namespace, workloads.without_ttl(batch) + serving)
    inferred = workloads.wait_rayjob_ended(kubectl, namespace, "digits-batch-inference", 360)
    log = kubectl("logs", "-n", namespace, "job/digits-batch-inference")
    assert inferred["jobStatus"] == "SUCCEEDED", log[-3000:]
    assert re.search(r"classified 35940 images in [0-9.]+ s: [0-9]+ rows/s on 2 workers", log), log[-3000:]
    accuracy = re.search(r"accuracy: ([0-9.]+); predictions written", log)
    assert accuracy, log[-3000:]
    assert float(accuracy.group(1)) > 0.95
    assert list((models / "predictions").glob("*.parquet"))

    wait_for(
        lambda: workloads.rayservice_ready(kubectl, namespace, "digits"), 300, "RayService digits Ready", 2
    )
    cluster = workloads.rayservice_status(kubectl, namespace, "digits")["activeServiceStatus"][
        "rayClusterName"
    ]
    head = kubectl.json(
        "get", "pods", "-n", namespace, "-l", f"ray.io/cluster={cluster},ray.io/node-type=head"
    )
    load = workloads.with_env(workloads.documents("digits-load.yaml"), SECONDS="100", CONCURRENCY="8")
    workloads.apply(kubectl, namespace, load)
    # Sustained load: Serve wants more replicas than one worker holds; Ray's autoscaler adds Pods.
    wait_for(
        lambda: len(workloads.worker_pods(kubectl, namespace, cluster)) >= 2,
        70,
        "a worker Pod added under load",
        2,
    )
    workloads.set_release(kubectl, namespace, "digits", "2")
    wait_for(
        lambda: workloads.job_finished(kubectl, namespace, "digits-load"), 200, "the load generator to end", 2
    )
    summary = workloads.job_summary(kubectl, namespace, "digits-load")
    assert summary["failed"] == 0, summary["first_failures"]
    assert summary["requests"] > 500
    assert summary["accuracy"] > 0.95  # the classes answered are the images' digits
    assert summary["releases"] == ["1", "2"]  # the model update reached the replicas during the load
    assert len(summary["replicas"]) >= 2  # the added Pods' replicas answered too
    # In place: the same RayCluster and head Pod served before and after the update.
    assert (
        workloads.rayservice_status(kubectl, namespace, "digits")["activeServiceStatus"]["rayClusterName"]
        == cluster
    )
    after = kubectl.json(
        "get", "pods", "-n", namespace, "-l", f"ray.io/cluster={cluster},ray.io/node-type=head"
    )
    assert [p["metadata"]["uid"] for p in after["items"]] == [p["metadata"]["uid"] for p in head["items"]]


@pytest.mark.timeout(600)
def test_ray_core_primer_retries_a_task_after_its_worker_pod_is_deleted(
    kubectl: Kubectl, namespace: str, operator: Path
) -> None:
    workloads.apply(kubectl, namespace, workloads.documents("ray-core-primer.yaml"))
    ended = workloads.wait_rayjob_ended(kubectl, namespace, "ray-core-primer", 420)
    log = kubectl("logs", "-n", namespace, "job/ray-core-primer")
    assert ended["jobStatus"] == "SUCCEEDED", log[-3000:]
    assert "sum 285" in log
    assert "running totals: [1, 3, 6, 10]" in log
    deleted = re.search(r"attempt 1 runs in Pod (\S+); deleting that Pod", log)
    retried = re.search(r"attempt (\d+) finished in Pod (\S+),", log)
    assert deleted, log[-3000:]
    assert retried, log[-3000:]
    assert int(retried.group(1)) >= 2
    assert retried.group(2) != deleted.group(1)
    assert "all Ray Core checks passed" in log
