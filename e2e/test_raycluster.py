"""The RayCluster controller on the local cluster, with real Ray."""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.conftest import ROOT, Kubectl, wait_for
from e2e.ray_jobs import submit_job, wait_job

SAMPLE = ROOT / "manifests" / "samples" / "raycluster.sample.yaml"


def raycluster(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = kubectl.json("get", "raycluster", name, "-n", namespace)
    return result


def wait_ready(kubectl: Kubectl, namespace: str, what: str = "ready") -> None:
    wait_for(
        lambda: raycluster(kubectl, namespace, "raycluster-sample").get("status", {}).get("state") == "ready",
        180,
        f"the RayCluster to be {what}",
        interval=2,
    )


def set_suspend(kubectl: Kubectl, namespace: str, suspend: bool) -> None:
    patch = json.dumps({"spec": {"suspend": suspend}})
    kubectl("patch", "raycluster", "raycluster-sample", "-n", namespace, "--type=merge", "-p", patch)


def alive_nodes(head_ip: str) -> int:
    """Alive Ray nodes as the head's dashboard reports them; -1 while the dashboard does not answer."""
    try:
        with urllib.request.urlopen(f"http://{head_ip}:8265/nodes?view=summary", timeout=5) as response:
            summary = json.load(response)["data"]["summary"]
    except OSError:
        return -1
    return sum(1 for node in summary if node["raylet"]["state"] == "ALIVE")


@pytest.mark.pod_network
def test_sample_raycluster_becomes_ready_and_scales(kubectl: Kubectl, namespace: str, operator: Path) -> None:
    kubectl("apply", "-n", namespace, "-f", str(SAMPLE))
    wait_ready(kubectl, namespace)
    status = raycluster(kubectl, namespace, "raycluster-sample")["status"]
    assert status["desiredWorkerReplicas"] == 1
    assert status["readyWorkerReplicas"] == 1
    assert status["head"]["serviceName"] == "raycluster-sample-head-svc"
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["RayClusterProvisioned"] == "True"
    assert conditions["HeadPodReady"] == "True"
    head_ip = status["head"]["podIP"]
    assert wait_for(lambda: alive_nodes(head_ip) == 2, 60, "Ray to report 2 nodes")

    pods = kubectl.json("get", "pods", "-n", namespace, "-l", "ray.io/cluster=raycluster-sample")["items"]
    names = sorted(p["metadata"]["generateName"] for p in pods)
    assert names == ["raycluster-sample-cpu-group-worker-", "raycluster-sample-head-"]
    for pod in pods:
        owner = pod["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["controller"]) == (
            "RayCluster",
            "raycluster-sample",
            True,
        )

    # Scale up to 2 workers: Ray itself must see 3 nodes.
    kubectl(
        "patch",
        "raycluster",
        "raycluster-sample",
        "-n",
        namespace,
        "--type=json",
        "-p",
        json.dumps([{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2}]),
    )
    wait_for(
        lambda: raycluster(kubectl, namespace, "raycluster-sample")["status"].get("readyWorkerReplicas") == 2,
        120,
        "two ready workers",
        interval=2,
    )
    assert wait_for(lambda: alive_nodes(head_ip) == 3, 90, "Ray to report 3 nodes")

    # A job submitted to the dashboard runs its tasks on the workers too.
    entrypoint = (
        'python -c "import ray, time; ray.init(); here = ray.get_runtime_context().get_node_id(); '
        "f = ray.remote(num_cpus=1)(lambda: (time.sleep(2), ray.get_runtime_context().get_node_id())[1]); "
        "print('OTHER_NODES=%d' % len(set(ray.get([f.remote() for _ in range(6)])) - {here}))\""
    )
    state, logs = wait_job(head_ip, submit_job(head_ip, entrypoint), 180)
    assert state == "SUCCEEDED", logs
    other_nodes = int(re.findall(r"OTHER_NODES=(\d+)", logs)[-1])
    assert other_nodes >= 1, logs

    # A deleted worker is replaced.
    worker = next(
        p["metadata"]["name"]
        for p in kubectl.json("get", "pods", "-n", namespace, "-l", "ray.io/node-type=worker")["items"]
    )
    kubectl("delete", "pod", worker, "-n", namespace, "--wait=false")

    def replaced() -> bool:
        workers = kubectl.json("get", "pods", "-n", namespace, "-l", "ray.io/node-type=worker")["items"]
        live = [p for p in workers if not p["metadata"].get("deletionTimestamp")]
        return len(live) == 2 and worker not in {p["metadata"]["name"] for p in live}

    wait_for(replaced, 60, "the deleted worker to be replaced")

    # A deleted head Pod is recreated, and Ray on the new head gets both workers back.
    old_head = raycluster(kubectl, namespace, "raycluster-sample")["status"]["head"]["podName"]
    kubectl("delete", "pod", old_head, "-n", namespace, "--wait=false")

    def new_head_ip() -> str | None:
        status = raycluster(kubectl, namespace, "raycluster-sample")["status"]
        conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
        head = status.get("head", {})
        fresh = head.get("podName") not in (None, old_head) and conditions.get("HeadPodReady") == "True"
        return head.get("podIP") if fresh else None

    new_ip = wait_for(new_head_ip, 150, "a new ready head Pod", interval=2)
    assert wait_for(
        lambda: alive_nodes(new_ip) == 3, 240, "Ray on the new head to see both workers", interval=3
    )

    # Deleting the RayCluster removes every child.
    kubectl("delete", "raycluster", "raycluster-sample", "-n", namespace, "--wait=false")

    def children() -> list[str]:
        listed = kubectl.json(
            "get", "pods,services", "-n", namespace, "-l", "ray.io/cluster=raycluster-sample"
        )
        return [f"{i['kind']}/{i['metadata']['name']}" for i in listed["items"]]

    wait_for(lambda: children() == [], 120, "every child of the RayCluster to be gone", interval=2)


@pytest.mark.invalid_objects
def test_an_invalid_raycluster_gets_a_warning_and_does_not_block_others(
    kubectl: Kubectl, namespace: str, operator: Path
) -> None:
    invalid = yaml.safe_load(SAMPLE.read_text())
    invalid["metadata"]["name"] = "broken"
    invalid["spec"]["workerGroupSpecs"][0]["minReplicas"] = 3
    invalid["spec"]["workerGroupSpecs"][0]["maxReplicas"] = 1
    kubectl.apply(yaml.safe_dump(invalid), namespace)
    kubectl("apply", "-n", namespace, "-f", str(SAMPLE))

    def warning() -> dict[str, Any] | None:
        events = kubectl.json(
            "get", "events", "-n", namespace, "--field-selector", "involvedObject.name=broken"
        )["items"]
        return next((e for e in events if e["reason"] == "InvalidRayClusterSpec"), None)

    problem = "spec.workerGroupSpecs[0].minReplicas: minReplicas (3) must not be greater than maxReplicas (1)"
    event = wait_for(warning, 60, "the InvalidRayClusterSpec event")
    assert event["type"] == "Warning"
    assert problem in event["message"]
    # The same words on the status, where GitOps tools look.
    broken = wait_for(
        lambda: raycluster(kubectl, namespace, "broken").get("status", {}).get("reason"),
        30,
        "the problem in the RayCluster's status",
    )
    assert broken == f"InvalidRayClusterSpec: {problem}"
    wait_ready(kubectl, namespace, "ready next to the invalid one")
    assert kubectl.json("get", "pods", "-n", namespace, "-l", "ray.io/cluster=broken")["items"] == []
    # Reported once, not retried in a loop: an invalid spec is not an operator failure.
    failures = [
        line for line in operator.read_text().splitlines() if "reconcile failed" in line and "broken" in line
    ]
    assert failures == []
    events = kubectl.json("get", "events", "-n", namespace, "--field-selector", "involvedObject.name=broken")
    assert [e["reason"] for e in events["items"]].count("InvalidRayClusterSpec") == 1

    # Fixed: the reason goes at the next pass, before the Pods are ready.
    patch = json.dumps(
        {"spec": {"workerGroupSpecs": [{**invalid["spec"]["workerGroupSpecs"][0], "maxReplicas": 3}]}}
    )
    kubectl("patch", "raycluster", "broken", "-n", namespace, "--type=merge", "-p", patch)
    wait_for(
        lambda: "reason" not in raycluster(kubectl, namespace, "broken").get("status", {}),
        30,
        "the reason to be cleared once the spec is valid",
    )


def test_suspend_deletes_every_pod_and_resume_brings_the_cluster_back(
    kubectl: Kubectl, namespace: str, operator: Path
) -> None:
    kubectl("apply", "-n", namespace, "-f", str(SAMPLE))
    wait_ready(kubectl, namespace)
    set_suspend(kubectl, namespace, True)

    def suspended() -> dict[str, Any] | None:
        status = raycluster(kubectl, namespace, "raycluster-sample").get("status", {})
        return status if status.get("state") == "suspended" else None

    status = wait_for(suspended, 90, "the RayCluster to be suspended", interval=2)
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert conditions["RayClusterSuspended"] == "True"
    assert conditions["RayClusterSuspending"] == "False"
    assert (
        kubectl.json("get", "pods", "-n", namespace, "-l", "ray.io/cluster=raycluster-sample")["items"] == []
    )

    set_suspend(kubectl, namespace, False)
    wait_ready(kubectl, namespace, "ready again")
    conditions = {
        c["type"]: c["status"]
        for c in raycluster(kubectl, namespace, "raycluster-sample")["status"]["conditions"]
    }
    assert conditions["RayClusterSuspended"] == "False"


def dashboard_status(head_ip: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(f"http://{head_ip}:8265/nodes?view=summary", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return -1


@pytest.mark.pod_network
def test_a_token_auth_raycluster_is_ready_and_its_dashboard_wants_the_token(
    kubectl: Kubectl, namespace: str, operator: Path
) -> None:
    """`authOptions.mode: token`: the operator creates the token Secret (KubeRay's name and key) and
    wires it into every Ray container; real Ray then refuses a dashboard request without it."""
    sample = yaml.safe_load(SAMPLE.read_text())
    sample["spec"]["authOptions"] = {"mode": "token"}
    kubectl.apply(yaml.safe_dump(sample), namespace)
    wait_ready(kubectl, namespace)
    secret = kubectl.json("get", "secret", "raycluster-sample", "-n", namespace)
    assert secret["metadata"]["ownerReferences"][0]["kind"] == "RayCluster"
    token = base64.b64decode(secret["data"]["auth_token"]).decode()
    assert len(base64.b64decode(token, validate=True)) == 32, "32 random bytes, base64, as KubeRay's"
    head_ip = raycluster(kubectl, namespace, "raycluster-sample")["status"]["head"]["podIP"]
    with_token = {"Authorization": f"Bearer {token}"}
    assert wait_for(
        lambda: dashboard_status(head_ip, with_token) == 200, 60, "the dashboard to answer with the token"
    )
    assert dashboard_status(head_ip, {}) == 401
    assert dashboard_status(head_ip, {"Authorization": "Bearer not-the-token"}) == 403
