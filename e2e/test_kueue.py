"""RayJobs and RayClusters under the real Kueue (built from its Go module, run beside the operator):
created suspended by Kueue's webhook, nothing runs until Kueue admits them, a ClusterQueue with quota
for one RayJob runs the second only once the first has ended. The expectations are those of Kueue's
own KubeRay e2e test (`test/e2e/singlecluster/kuberay_test.go`) and KubeRay's suspend semantics."""

from __future__ import annotations

import copy
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.conformance.cases import simulated_raycluster_spec
from e2e.conftest import Kubectl, wait_for
from e2e.ray_jobs import HEAD_ONLY, TASKS
from raykopf_local.cluster import LocalCluster

QUEUE_NAME = "kueue.x-k8s.io/queue-name"
KUEUE_API = "kueue.x-k8s.io/v1beta2"
IMAGE = HEAD_ONLY["headGroupSpec"]["template"]["spec"]["containers"][0]["image"]  # type: ignore[index]


@pytest.fixture(scope="module")
def kueue(local_cluster: LocalCluster) -> Iterator[None]:
    local_cluster.start_kueue(lambda line: print(f"[kueue] {line}", file=sys.stderr, flush=True))
    yield
    local_cluster.stop_kueue()


def cpu_only(cpu: str) -> dict[str, Any]:
    return {"requests": {"cpu": cpu}, "limits": {"cpu": cpu}}


def queued_rayjob(name: str, queue: str) -> dict[str, Any]:
    """As Kueue's own test builds it: head and submitter with CPU requests (the ClusterQueue covers
    only CPU), a submitter template so that Kueue's labels reach the submitter Pod too."""
    cluster = copy.deepcopy(HEAD_ONLY)
    cluster["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"] = cpu_only("1")  # type: ignore[index]
    submitter = {
        "spec": {
            "containers": [{"name": "rayjob-submitter", "image": IMAGE, "resources": cpu_only("300m")}],
            "restartPolicy": "OnFailure",
        }
    }
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": name, "labels": {QUEUE_NAME: queue}},
        "spec": {
            "entrypoint": TASKS,
            "submissionMode": "K8sJobMode",
            "shutdownAfterJobFinishes": True,
            "rayClusterSpec": cluster,
            "submitterPodTemplate": submitter,
        },
    }


class Queues:
    """A ResourceFlavor, a ClusterQueue with `cpu` of quota, and a LocalQueue in `namespace`."""

    def __init__(self, kubectl: Kubectl, namespace: str, cpu: str) -> None:
        self.kubectl, self.namespace = kubectl, namespace
        suffix = uuid.uuid4().hex[:6]
        self.flavor, self.cluster_queue, self.local_queue = f"rf-{suffix}", f"cq-{suffix}", f"lq-{suffix}"
        objects = [
            {"apiVersion": KUEUE_API, "kind": "ResourceFlavor", "metadata": {"name": self.flavor}},
            {
                "apiVersion": KUEUE_API,
                "kind": "ClusterQueue",
                "metadata": {"name": self.cluster_queue},
                "spec": {
                    "namespaceSelector": {},
                    "resourceGroups": [
                        {
                            "coveredResources": ["cpu"],
                            "flavors": [
                                {"name": self.flavor, "resources": [{"name": "cpu", "nominalQuota": cpu}]}
                            ],
                        }
                    ],
                },
            },
            {
                "apiVersion": KUEUE_API,
                "kind": "LocalQueue",
                "metadata": {"name": self.local_queue, "namespace": namespace},
                "spec": {"clusterQueue": self.cluster_queue},
            },
        ]
        kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))
        for kind, name in (("clusterqueue", self.cluster_queue), ("localqueue", self.local_queue)):
            kubectl("wait", "-n", namespace, "--for=condition=Active", f"{kind}/{name}", "--timeout=60s")

    def hold(self, held: bool) -> None:
        """Kueue admits nothing new from a ClusterQueue whose stopPolicy is Hold."""
        patch = '{"spec":{"stopPolicy":"%s"}}' % ("Hold" if held else "None")
        self.kubectl("patch", "clusterqueue", self.cluster_queue, "--type=merge", "-p", patch)

    def delete(self) -> None:
        self.kubectl(
            "delete", "localqueue", self.local_queue, "-n", self.namespace, "--wait=false", check=False
        )
        self.kubectl("delete", "clusterqueue", self.cluster_queue, "--wait=false", check=False)
        self.kubectl("delete", "resourceflavor", self.flavor, "--wait=false", check=False)


@pytest.fixture
def queues(kubectl: Kubectl, namespace: str, kueue: None, request: pytest.FixtureRequest) -> Iterator[Queues]:
    made = Queues(kubectl, namespace, cpu=getattr(request, "param", "2"))
    yield made
    made.delete()


def rayjob(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = kubectl.json("get", "rayjob", name, "-n", namespace)
    return found


def workload_of(kubectl: Kubectl, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
    """The Workload Kueue made for the object (it owns it)."""
    for workload in kubectl.json("get", "workloads.kueue.x-k8s.io", "-n", namespace)["items"]:
        owners = workload["metadata"].get("ownerReferences") or []
        if any(o["kind"] == kind and o["name"] == name for o in owners):
            found: dict[str, Any] = workload
            return found
    return None


def admitted(workload: dict[str, Any] | None) -> bool:
    conditions = ((workload or {}).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Admitted" and c["status"] == "True" for c in conditions)


def rayclusters(kubectl: Kubectl, namespace: str) -> list[str]:
    return [c["metadata"]["name"] for c in kubectl.json("get", "rayclusters", "-n", namespace)["items"]]


def test_a_cluster_queue_with_quota_for_one_rayjob_runs_the_second_when_the_first_ends(
    kubectl: Kubectl, namespace: str, operator: Path, queues: Queues
) -> None:
    for name in ("first", "second"):
        kubectl.apply(yaml.safe_dump(queued_rayjob(name, queues.local_queue)), namespace)
    # Kueue's webhook suspends both at creation; it admits the one that fits (1.3 CPU of 2).
    first_workload = wait_for(
        lambda: (w := workload_of(kubectl, namespace, "RayJob", "first")) and admitted(w) and w,
        60,
        "the first RayJob's Workload to be admitted",
    )
    assert first_workload["spec"]["queueName"] == queues.local_queue
    assert [p["name"] for p in first_workload["spec"]["podSets"]] == ["head", "submitter"]

    def running(name: str) -> dict[str, Any] | None:
        job = rayjob(kubectl, namespace, name)
        status = job.get("status") or {}
        return (
            job if not job["spec"].get("suspend") and status.get("jobDeploymentStatus") == "Running" else None
        )

    wait_for(lambda: running("first"), 240, "the first RayJob to run", interval=2)
    second = rayjob(kubectl, namespace, "second")
    assert second["spec"]["suspend"] is True  # set by Kueue's webhook, never by the operator
    assert (second.get("status") or {}).get("jobDeploymentStatus") == "Suspended"
    second_workload = workload_of(kubectl, namespace, "RayJob", "second")
    assert second_workload is not None
    assert not admitted(second_workload)
    # Nothing of the second exists: no RayCluster, no submitter Job.
    assert rayclusters(kubectl, namespace) == [
        rayjob(kubectl, namespace, "first")["status"]["rayClusterName"]
    ]
    assert kubectl("get", "job", "second", "-n", namespace, "--ignore-not-found", "-o", "name").strip() == ""
    # Kueue's labels, merged into the templates when it admitted the first, are on every Pod of it.
    pods = kubectl.json("get", "pods", "-n", namespace)["items"]
    assert pods
    for pod in pods:
        assert pod["metadata"]["labels"]["kueue.x-k8s.io/cluster-queue-name"] == queues.cluster_queue
        assert pod["metadata"]["labels"]["kueue.x-k8s.io/local-queue-name"] == queues.local_queue

    def complete(name: str) -> dict[str, Any] | None:
        status = rayjob(kubectl, namespace, name).get("status") or {}
        return status if status.get("jobDeploymentStatus") == "Complete" else None

    done = wait_for(lambda: complete("first"), 300, "the first RayJob to complete", interval=2)
    assert done["jobStatus"] == "SUCCEEDED"
    # Complete is what Kueue reads as finished: it frees the quota and admits the second, which the
    # operator then runs.
    wait_for(
        lambda: admitted(workload_of(kubectl, namespace, "RayJob", "second")), 120, "the second's admission"
    )
    done = wait_for(lambda: complete("second"), 300, "the second RayJob to complete", interval=2)
    assert done["jobStatus"] == "SUCCEEDED"
    # Kueue writing the RayJobs while the operator does is no failure of the operator's.
    reasons = [e["reason"] for e in kubectl.json("get", "events.events.k8s.io", "-n", namespace)["items"]]
    assert "ReconcileError" not in reasons


def test_a_queued_raycluster_has_no_pods_until_kueue_admits_it(
    kubectl: Kubectl, namespace: str, operator: Path, queues: Queues
) -> None:
    queues.hold(True)
    cluster = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "queued", "labels": {QUEUE_NAME: queues.local_queue}},
        "spec": simulated_raycluster_spec(HEAD_ONLY),  # on the simulated node: no Ray needed here
    }
    cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"] = cpu_only("1")
    kubectl.apply(yaml.safe_dump(cluster), namespace)
    wait_for(
        lambda: workload_of(kubectl, namespace, "RayCluster", "queued"),
        60,
        "Kueue's Workload for the RayCluster",
    )
    found = kubectl.json("get", "raycluster", "queued", "-n", namespace)
    assert found["spec"]["suspend"] is True  # Kueue's webhook
    # The operator has seen it: it reports the suspended state, and made no Pod.
    wait_for(
        lambda: (
            (kubectl.json("get", "raycluster", "queued", "-n", namespace).get("status") or {}).get("state")
            == "suspended"
        ),
        60,
        "the RayCluster's status to say suspended",
    )
    assert kubectl.json("get", "pods", "-n", namespace)["items"] == []
    queues.hold(False)
    wait_for(lambda: admitted(workload_of(kubectl, namespace, "RayCluster", "queued")), 60, "the admission")

    def ready() -> bool:
        return (kubectl.json("get", "raycluster", "queued", "-n", namespace).get("status") or {}).get(
            "state"
        ) == "ready"

    wait_for(ready, 120, "the admitted RayCluster to be ready", interval=2)
    head = kubectl.json("get", "pods", "-n", namespace, "-l", "ray.io/node-type=head")["items"]
    assert head[0]["metadata"]["labels"]["kueue.x-k8s.io/cluster-queue-name"] == queues.cluster_queue


def test_a_rayjob_managed_by_multikueue_is_left_to_kueue(
    kubectl: Kubectl, namespace: str, operator: Path, kueue: None
) -> None:
    """`spec.managedBy: kueue.x-k8s.io/multikueue`: on a MultiKueue manager cluster the RayJob runs on
    a worker cluster; this operator makes nothing for it and writes no status (as KubeRay)."""
    managed = {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": "elsewhere"},
        "spec": {
            "entrypoint": TASKS,
            "managedBy": "kueue.x-k8s.io/multikueue",
            "rayClusterSpec": simulated_raycluster_spec(HEAD_ONLY),
        },
    }
    local = {**copy.deepcopy(managed), "metadata": {"name": "here"}}
    del local["spec"]["managedBy"]
    kubectl.apply(yaml.safe_dump(managed), namespace)
    kubectl.apply(yaml.safe_dump(local), namespace)
    # The operator got to the later one, so it has seen the earlier one.
    wait_for(
        lambda: (rayjob(kubectl, namespace, "here").get("status") or {}).get("rayClusterName"),
        60,
        "here's cluster",
    )
    assert "status" not in rayjob(kubectl, namespace, "elsewhere")
    assert all(not name.startswith("elsewhere") for name in rayclusters(kubectl, namespace))
