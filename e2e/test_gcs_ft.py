"""GCS fault tolerance with a real Redis (Debian's `redis-server`, run as a Pod by the node agent) and
real Ray: the head Pod is killed and comes back with the cluster's state (a detached actor and a
running RayJob live through it); deleting the cluster cleans its keys out of Redis; with Redis
unreachable, the finalizer goes after the timeout with a Warning."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from e2e.conftest import Kubectl, wait_for
from e2e.ray_jobs import submit_job, wait_job

PASSWORD = "gcs-ft-test-password"
RAY = {"name": "ray", "image": "rayproject/ray:2.60.0"}
REDIS = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "redis", "labels": {"app": "redis"}},
    "spec": {
        "containers": [
            {
                "name": "redis",
                "image": "redis:7.0",
                # The node agent runs the host's redis-server (Debian's) in the Pod.
                "command": ["redis-server", "--port", "6379", "--requirepass", "$(REDIS_PASSWORD)"],
                "args": ["--save", "", "--appendonly", "no", "--protected-mode", "no", "--dir", "/tmp"],
                "env": [
                    {
                        "name": "REDIS_PASSWORD",
                        "valueFrom": {"secretKeyRef": {"name": "redis-password", "key": "password"}},
                    }
                ],
                "readinessProbe": {"tcpSocket": {"port": 6379}, "periodSeconds": 1},
            }
        ]
    },
}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "redis"},
    "spec": {"selector": {"app": "redis"}, "ports": [{"port": 6379}]},
}
# KubeRay's test_detached_actor: the head has no CPU, so the actor lives on the worker.
COUNTER = """
import ray
ray.init(namespace="ft")
@ray.remote(num_cpus=1)
class Counter:
    def __init__(self):
        self.value = 0
    def increment(self):
        self.value += 1
        return self.value
counter = Counter.options(name="counter", lifetime="detached").remote()
print("counter", ray.get(counter.increment.remote()), ray.get(counter.increment.remote()))
"""
# A driver that lives through the head's death: it runs on the worker (the RayJob asks for a CPU and
# the head has none) and ends once it sees a new head node in the same cluster.
SURVIVOR = """
import ray, time
ray.init()
def head():
    alive = [n["NodeID"] for n in ray.nodes() if n["Alive"] and "node:__internal_head__" in n["Resources"]]
    return alive[0] if alive else None
first = head()
print("watching head", first, flush=True)
for _ in range(300):
    time.sleep(1)
    try:
        now = head()
    except Exception:
        continue
    if now not in (None, first):
        print("new head", now, flush=True)
        break
else:
    raise SystemExit("the head was never replaced")
"""
WATCHING = re.compile(r"^watching head [0-9a-f]{56}$", re.M)
NEW_HEAD = re.compile(r"^new head [0-9a-f]{56}$", re.M)
AGAIN = """
import ray
ray.init(namespace="ft")
print("counter", ray.get(ray.get_actor("counter").increment.remote()))
"""


def raycluster(name: str, redis: str, **annotations: str) -> dict[str, Any]:
    password = {"valueFrom": {"secretKeyRef": {"name": "redis-password", "key": "password"}}}
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "rayVersion": "2.60.0",
            "gcsFaultToleranceOptions": {"redisAddress": redis, "redisPassword": password},
            "headGroupSpec": {
                "rayStartParams": {"num-cpus": "0", "object-store-memory": "100000000"},
                "template": {"spec": {"containers": [{**RAY, "name": "ray-head"}]}},
            },
            "workerGroupSpecs": [
                {
                    "groupName": "workers",
                    "replicas": 1,
                    "minReplicas": 1,
                    "maxReplicas": 1,
                    # One CPU for the detached actor, one for the RayJob's driver.
                    "rayStartParams": {"num-cpus": "2", "object-store-memory": "100000000"},
                    "template": {"spec": {"containers": [{**RAY, "name": "ray-worker"}]}},
                }
            ],
        },
    }


def pods(kubectl: Kubectl, namespace: str, node_type: str) -> list[dict[str, Any]]:
    selector = f"ray.io/cluster=ft,ray.io/node-type={node_type}"
    found = kubectl.json("get", "pods", "-n", namespace, "-l", selector)["items"]
    return [p for p in found if not p["metadata"].get("deletionTimestamp")]


def ready_head(kubectl: Kubectl, namespace: str) -> dict[str, Any] | None:
    for pod in pods(kubectl, namespace, "head"):
        conditions = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions") or []}
        if conditions.get("Ready") == "True":
            return pod
    return None


def submitted(head_ip: str, entrypoint: str) -> str | None:
    try:
        return submit_job(head_ip, entrypoint)
    except OSError:
        return None  # the dashboard is not up yet (a head Pod is Ready once its GCS answers)


def run(head_ip: str, script: str) -> str:
    entrypoint = f"python -c '{script}'"
    job = wait_for(lambda: submitted(head_ip, entrypoint), 120, "the dashboard to take a job", interval=2)
    status, logs = wait_job(head_ip, job, 180)
    assert status == "SUCCEEDED", logs
    return logs


def rayjob_status(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    return kubectl.json("get", "rayjob", name, "-n", namespace).get("status") or {}


def driver_logs(head_ip: str, job: str) -> str:
    try:
        with urllib.request.urlopen(f"http://{head_ip}:8265/api/jobs/{job}/logs", timeout=10) as response:
            return str(json.load(response)["logs"])
    except OSError:
        return ""


def redis_keys(kubectl: Kubectl, namespace: str, prefix: str) -> list[str]:
    ip = kubectl.json("get", "pod", "redis", "-n", namespace)["status"]["podIP"]
    out = subprocess.run(
        [
            "redis-cli",
            "-h",
            ip,
            "-p",
            "6379",
            "--no-auth-warning",
            "-a",
            PASSWORD,
            "--scan",
            "--pattern",
            f"*{prefix}*",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    return out.split()


def reasons(kubectl: Kubectl, namespace: str) -> set[tuple[str, str]]:
    """(type, reason) of the Events about the RayCluster `ft`."""
    events = kubectl.json("get", "events", "-n", namespace, "--field-selector", "involvedObject.name=ft")[
        "items"
    ]
    return {(e["type"], e["reason"]) for e in events}


@pytest.mark.pod_network
def test_the_head_comes_back_with_the_cluster_and_deletion_cleans_redis(
    kubectl: Kubectl, namespace: str, operator: Path
) -> None:
    kubectl(
        "create",
        "secret",
        "generic",
        "redis-password",
        "-n",
        namespace,
        f"--from-literal=password={PASSWORD}",
    )
    for body in (REDIS, SERVICE):
        kubectl.apply(json.dumps(body), namespace)
    wait_for(
        lambda: kubectl.json("get", "pod", "redis", "-n", namespace).get("status", {}).get("podIP"),
        60,
        "the Redis Pod",
    )
    kubectl.apply(json.dumps(raycluster("ft", "redis:6379")), namespace)

    def state() -> str | None:
        found = kubectl.json("get", "raycluster", "ft", "-n", namespace)
        return (found.get("status") or {}).get("state")

    wait_for(lambda: state() == "ready", 240, "the RayCluster to be ready", interval=2)
    head = ready_head(kubectl, namespace)
    assert head is not None
    assert "counter 1 2" in run(head["status"]["podIP"], COUNTER)
    uid = kubectl.json("get", "raycluster", "ft", "-n", namespace)["metadata"]["uid"]
    assert redis_keys(kubectl, namespace, uid), "the GCS keeps its tables in Redis under the cluster's uid"
    (worker,) = pods(kubectl, namespace, "worker")
    # A RayJob (K8sJobMode, on this cluster) whose driver is running when the head goes.
    survivor = {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": "survivor"},
        "spec": {
            "clusterSelector": {"ray.io/cluster": "ft"},
            "entrypoint": f"python -c '{SURVIVOR}'",
            "entrypointNumCpus": 1,
        },
    }
    kubectl.apply(json.dumps(survivor), namespace)
    job = wait_for(
        lambda: (
            (s := rayjob_status(kubectl, namespace, "survivor")).get("jobStatus") == "RUNNING" and s["jobId"]
        ),
        180,
        "the RayJob's Ray job to run",
        interval=2,
    )
    # The logs echo the entrypoint first: wait for the driver's own line, with the node ID in it.
    wait_for(lambda: WATCHING.search(driver_logs(head["status"]["podIP"], job)), 60, "the driver to start")

    killed = time.monotonic()
    kubectl("delete", "pod", head["metadata"]["name"], "-n", namespace, "--grace-period=0", "--force")
    new_head = wait_for(
        lambda: (
            (h := ready_head(kubectl, namespace)) and h["metadata"]["uid"] != head["metadata"]["uid"] and h
        ),
        240,
        "a new head Pod, Ready",
        interval=2,
    )
    # The detached actor on the worker lived through it: its state is where it was.
    back = time.monotonic() - killed
    assert "counter 3" in run(new_head["status"]["podIP"], AGAIN)
    print(
        f"head killed: a new head Ready after {back:.0f} s; the detached actor answered after {time.monotonic() - killed:.0f} s"
    )
    done = wait_for(
        lambda: (
            (s := rayjob_status(kubectl, namespace, "survivor")).get("jobDeploymentStatus")
            in ("Complete", "Failed")
            and s
        ),
        180,
        "the RayJob to finish",
        interval=2,
    )
    assert (done["jobDeploymentStatus"], done.get("jobStatus")) == ("Complete", "SUCCEEDED"), done
    assert NEW_HEAD.search(driver_logs(new_head["status"]["podIP"], job))
    print(f"the RayJob running through the kill was Complete {time.monotonic() - killed:.0f} s after it")
    (same,) = pods(kubectl, namespace, "worker")
    assert same["metadata"]["uid"] == worker["metadata"]["uid"]
    restarts = [c.get("restartCount", 0) for c in same["status"].get("containerStatuses") or []]
    assert restarts == [0], same["status"]

    kubectl("delete", "raycluster", "ft", "-n", namespace, "--wait=false")
    gone = lambda: not kubectl("get", "raycluster", "ft", "-n", namespace, "-o", "name", check=False)  # noqa: E731
    wait_for(gone, 240, "the finalizer to go once the clean-up Job has run", interval=2)
    # The Job went with its RayCluster (it is owned by it); its Events stay.
    assert ("Normal", "CreatedRedisCleanupJob") in reasons(kubectl, namespace)
    assert ("Warning", "RedisCleanupJobFailed") not in reasons(kubectl, namespace)
    assert redis_keys(kubectl, namespace, uid) == []


def test_with_redis_unreachable_the_finalizer_goes_after_the_timeout(
    kubectl: Kubectl, namespace: str, operator: Path
) -> None:
    """Redis does not answer (a Service with no Pod behind it): the clean-up Job keeps retrying, and
    the finalizer is forced off after `ray.io/gcs-ft-deletion-timeout` (20 s) with a Warning."""
    secret = ["secret", "generic", "redis-password", "-n", namespace, f"--from-literal=password={PASSWORD}"]
    kubectl("create", *secret)
    silent = {
        **SERVICE,
        "metadata": {"name": "silent"},
        "spec": {**SERVICE["spec"], "selector": {"app": "none"}},
    }
    kubectl.apply(json.dumps(silent), namespace)
    body = raycluster("ft", "silent:6379", **{"ray.io/gcs-ft-deletion-timeout": "20"})
    kubectl.apply(json.dumps(body), namespace)

    def finalizers() -> list[str]:
        return list(
            kubectl.json("get", "raycluster", "ft", "-n", namespace)["metadata"].get("finalizers") or []
        )

    wait_for(lambda: finalizers() == ["ray.io/gcs-ft-redis-cleanup-finalizer"], 60, "the finalizer")
    wait_for(lambda: pods(kubectl, namespace, "head"), 60, "the head Pod")
    kubectl("delete", "raycluster", "ft", "-n", namespace, "--wait=false")
    gone = lambda: not kubectl("get", "raycluster", "ft", "-n", namespace, "-o", "name", check=False)  # noqa: E731
    wait_for(gone, 90, "the finalizer to be forced off after the 20 s timeout", interval=2)
    assert ("Normal", "CreatedRedisCleanupJob") in reasons(kubectl, namespace)
    assert ("Warning", "ForceDeletedStuckCluster") in reasons(kubectl, namespace)
