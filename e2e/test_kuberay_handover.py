"""Moving between KubeRay's operator and raykopf, both ways, and the guard against both leading at once.

KubeRay's own operator (built from its Go module) runs beside raykopf on the local cluster. In the
first tests Ray Pods go to the simulated node: what matters there is which Pods each operator creates,
deletes or leaves alone. The last two move running Ray workloads (a serving RayService, an autoscaling
RayCluster, a RayJob half-way through its driver) from one operator to the other.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.conformance.cases import simulated_raycluster_spec
from e2e.conformance.real_ray import serving as is_serving
from e2e.conftest import (
    RAY_KINDS,
    ROOT,
    HostOperator,
    Kubectl,
    create_namespace,
    drop_ray_finalizers,
    wait_for,
)
from e2e.ray_jobs import HEAD_ONLY
from e2e.serve_traffic import Traffic, greet
from raykopf_local.cluster import LocalCluster

PROBE = ":18182"  # the suite's raykopf, off the session operator's :8082


def say(line: str) -> None:
    print(f"[kuberay] {line}", file=sys.stderr, flush=True)


def raycluster(name: str, workers: int, *, autoscaling: bool = False) -> dict[str, Any]:
    container = {"name": "ray", "image": "rayproject/ray:2.52.0"}
    spec: dict[str, Any] = {
        "rayVersion": "2.52.0",
        "headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [container]}}},
        "workerGroupSpecs": [
            {
                "groupName": "workers",
                "replicas": workers,
                "minReplicas": 0,
                "maxReplicas": 10,
                "rayStartParams": {},
                "template": {"spec": {"containers": [container]}},
            }
        ],
    }
    if autoscaling:
        spec["enableInTreeAutoscaling"] = True
    body = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": name}}
    return {**body, "spec": simulated_raycluster_spec(spec)}


def pods(kubectl: Kubectl, namespace: str) -> dict[str, str]:
    """uid -> name of the live Ray Pods of the namespace."""
    items = kubectl.json("get", "pods", "-n", namespace, "-l", "ray.io/is-ray-node=yes")["items"]
    return {
        p["metadata"]["uid"]: p["metadata"]["name"]
        for p in items
        if not p["metadata"].get("deletionTimestamp")
    }


def scale(kubectl: Kubectl, namespace: str, name: str, workers: int) -> None:
    patch = [{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": workers}]
    kubectl("patch", "raycluster", name, "-n", namespace, "--type=json", "-p", json.dumps(patch))


def ready(kubectl: Kubectl, namespace: str, name: str) -> bool:
    body = kubectl.json("get", "raycluster", name, "-n", namespace)
    return bool(body.get("status", {}).get("state") == "ready")


def two_ready_clusters(kubectl: Kubectl, namespace: str, whose: str) -> None:
    """A plain RayCluster (head + 2 workers) and an autoscaling one (head + 1 worker), both ready."""
    kubectl.apply(json.dumps(raycluster("plain", 2)), namespace)
    kubectl.apply(json.dumps(raycluster("scaled", 1, autoscaling=True)), namespace)
    wait_for(lambda: ready(kubectl, namespace, "plain") and ready(kubectl, namespace, "scaled"), 90, whose)


def readyz() -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1{PROBE}/readyz", timeout=2) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


@pytest.fixture
def peers(
    local_cluster: LocalCluster,
    kubectl: Kubectl,
    host_operator: HostOperator,
    namespace: str,
    tmp_path: Path,
) -> Iterator[tuple[HostOperator, str]]:
    """raykopf (stopped) for `namespace` only; KubeRay is started by the test. Both stopped after."""
    host_operator.stop()
    ours = HostOperator(
        local_cluster.kubeconfig,
        tmp_path / "raykopf.log",
        extra=["--watch-namespace", namespace, "--health-probe-bind-address", PROBE],
    )
    try:
        yield ours, str(tmp_path / "raykopf.log")
    finally:
        kubectl("delete", RAY_KINDS, "--all", "-n", namespace, "--wait=false", check=False)
        ours.stop()
        local_cluster.stop_kuberay()
        drop_ray_finalizers(kubectl, namespace)  # no operator is left to finish them


def test_raykopf_stands_back_while_kuberay_leads_then_takes_its_clusters_over(
    local_cluster: LocalCluster, kubectl: Kubectl, namespace: str, peers: tuple[HostOperator, str]
) -> None:
    ours, log = peers
    lease_namespace = f"{namespace}-lease"
    create_namespace(kubectl, lease_namespace)
    try:
        local_cluster.start_kuberay(say, [namespace], leader_election_namespace=lease_namespace)
        two_ready_clusters(kubectl, namespace, "KubeRay's clusters")
        built_by_kuberay = pods(kubectl, namespace)
        assert len(built_by_kuberay) == 5

        # raykopf starts while KubeRay leads over the same namespace: it says so and stands back.
        ours.start()
        wait_for(lambda: readyz() == (503, "conflict"), 30, "raykopf's /readyz to say conflict")
        wait_for(
            lambda: kubectl(
                "get",
                "events",
                "-n",
                lease_namespace,
                "--field-selector",
                "reason=OperatorConflict",
                "-o",
                "name",
            ),
            30,
            "an OperatorConflict event on KubeRay's Lease",
        )
        assert "another operator leads over namespaces this one watches" in Path(log).read_text()
        scale(kubectl, namespace, "plain", 3)  # only KubeRay acts: exactly one new Pod
        wait_for(lambda: len(pods(kubectl, namespace)) == 6, 60, "KubeRay's new worker")
        before = pods(kubectl, namespace)

        # KubeRay stops: raykopf takes over once its Lease has run out, and recreates nothing.
        local_cluster.stop_kuberay()
        wait_for(lambda: readyz()[0] == 200, 60, "raykopf to take over")
        scale(kubectl, namespace, "plain", 4)
        wait_for(lambda: len(pods(kubectl, namespace)) == 7, 60, "raykopf's new worker")
        after = pods(kubectl, namespace)
        assert set(before) <= set(after), f"Pods KubeRay made were replaced: {set(before) - set(after)}"
        wait_for(lambda: ready(kubectl, namespace, "plain"), 60, "raykopf to report the cluster ready")
    finally:
        kubectl("delete", "namespace", lease_namespace, "--wait=false", check=False)


def test_kuberay_takes_over_what_raykopf_built(
    local_cluster: LocalCluster, kubectl: Kubectl, namespace: str, peers: tuple[HostOperator, str]
) -> None:
    ours, _ = peers
    ours.start()
    two_ready_clusters(kubectl, namespace, "raykopf's clusters")
    before = pods(kubectl, namespace)
    assert len(before) == 5
    ours.stop()

    local_cluster.start_kuberay(say, [namespace])
    scale(kubectl, namespace, "plain", 3)
    wait_for(lambda: len(pods(kubectl, namespace)) == 6, 60, "KubeRay's new worker")
    after = pods(kubectl, namespace)
    assert set(before) <= set(after), f"Pods raykopf made were replaced: {set(before) - set(after)}"
    wait_for(lambda: ready(kubectl, namespace, "plain"), 60, "KubeRay to report the cluster ready")


# --- With real Ray: what users move between operators, working all along ---------------------------

SAMPLES = ROOT / "manifests" / "samples"
SERVICE = "rayservice-sample"  # the name in the sample
# A driver that runs for a while and prints as it goes: the RayJob is Running when the operators swap.
LONG_DRIVER = (
    'python -c "import ray, time; ray.init()\n'
    "for step in range(40):\n"
    "    print('step', ray.get(ray.remote(lambda x: x).remote(step)), flush=True)\n"
    '    time.sleep(1)"'
)


def workloads(kubectl: Kubectl, namespace: str) -> None:
    """A RayService serving, an autoscaling RayCluster and a RayJob whose driver runs for about 40 s."""
    service = list(yaml.safe_load_all((SAMPLES / "rayservice.sample.yaml").read_text()))
    kubectl.apply(yaml.safe_dump_all(service), namespace)
    kubectl.apply((SAMPLES / "raycluster.autoscaler.yaml").read_text(), namespace)
    job = {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": "long-job"},
        "spec": {"entrypoint": LONG_DRIVER, "rayClusterSpec": HEAD_ONLY},
    }
    kubectl.apply(json.dumps(job), namespace)


def get_status(kubectl: Kubectl, namespace: str, kind: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = kubectl.json("get", kind, name, "-n", namespace).get("status") or {}
    return result


def serving(kubectl: Kubectl, namespace: str) -> bool:
    return is_serving(kubectl.json("get", "rayservice", SERVICE, "-n", namespace))


def all_working(kubectl: Kubectl, namespace: str) -> bool:
    job = get_status(kubectl, namespace, "rayjob", "long-job")
    return (
        serving(kubectl, namespace)
        and ready(kubectl, namespace, "raycluster-autoscaler")
        and job.get("jobStatus") == "RUNNING"
    )


def ray_objects(kubectl: Kubectl, namespace: str) -> list[str]:
    return sorted(kubectl("get", "rayclusters,jobs.batch", "-n", namespace, "-o", "name").split())


def hand_over(
    kubectl: Kubectl, namespace: str, first: str, stop_first: Any, start_second: Any, second: str
) -> None:
    """Everything works under `first`; `first` stops and `second` starts while a client calls the
    serve Service; no Pod or RayCluster is replaced, no request fails, the RayJob completes."""
    workloads(kubectl, namespace)
    wait_for(lambda: all_working(kubectl, namespace), 420, f"everything to work under {first}", interval=2)
    before_pods, before_objects = pods(kubectl, namespace), ray_objects(kubectl, namespace)
    serve = kubectl.json("get", "service", f"{SERVICE}-serve-svc", "-n", namespace)
    url = f"http://{serve['spec']['clusterIP']}:8000"
    # Ready can come a moment before every proxy has the app's route (Ray spreads it to the proxies
    # on its own time, under either operator): the client starts once every answer is right.
    wait_for(
        lambda: all(greet(url, "op")[0] == 200 for _ in range(20)),
        60,
        f"the serve Service to answer every request under {first}",
    )
    traffic = Traffic(url)
    traffic.start()
    try:
        stop_first()
        start_second()
        job = wait_for(
            lambda: (
                (s := get_status(kubectl, namespace, "rayjob", "long-job")).get("jobDeploymentStatus")
                in ("Complete", "Failed")
                and s
            ),
            240,
            f"the RayJob to finish under {second}",
            interval=2,
        )
        wait_for(lambda: serving(kubectl, namespace), 60, f"{second} to report the RayService Ready")
        time.sleep(5)  # a few more seconds of traffic under the second operator
    finally:
        traffic.stop.set()
        traffic.join(timeout=60)
    assert job["jobDeploymentStatus"] == "Complete", job
    assert job["jobStatus"] == "SUCCEEDED", job
    assert traffic.ok > 0
    assert not traffic.failed, f"failed requests during the handover: {traffic.failed[:5]}"
    after_pods = pods(kubectl, namespace)
    assert set(before_pods) <= set(after_pods), f"Pods replaced: {set(before_pods) - set(after_pods)}"
    assert ray_objects(kubectl, namespace) == before_objects, "RayClusters or Jobs were added or replaced"
    if second == "raykopf":  # KubeRay's owner Services, taken over: in raykopf's Service cache
        for service in (f"{SERVICE}-serve-svc", f"{SERVICE}-head-svc", "long-job-head-svc"):
            labels = kubectl.json("get", "service", service, "-n", namespace)["metadata"].get("labels") or {}
            assert "ray.io/cluster" in labels, f"{service} was not taken over: {labels}"


def test_running_ray_workloads_move_from_kuberay_to_raykopf(
    local_cluster: LocalCluster, kubectl: Kubectl, namespace: str, peers: tuple[HostOperator, str]
) -> None:
    ours, _ = peers
    local_cluster.start_kuberay(say, [namespace])
    hand_over(kubectl, namespace, "KubeRay", local_cluster.stop_kuberay, ours.start, "raykopf")


def test_running_ray_workloads_move_from_raykopf_to_kuberay(
    local_cluster: LocalCluster, kubectl: Kubectl, namespace: str, peers: tuple[HostOperator, str]
) -> None:
    ours, _ = peers
    ours.start()
    hand_over(
        kubectl,
        namespace,
        "raykopf",
        ours.stop,
        lambda: local_cluster.start_kuberay(say, [namespace]),
        "KubeRay",
    )
