"""RayCluster status: sticky `ready`, conditions, counters, head info, resources."""

from __future__ import annotations

from typing import Any

from raykopf.api import RayCluster
from raykopf.reconcile import status as computed
from raykopf.reconcile.actions import Failure
from raykopf.reconcile.raycluster import Observed


def cluster(status: dict[str, Any] | None = None, suspend: bool = False) -> RayCluster:
    resources = {"limits": {"cpu": "1", "memory": "2Gi"}}
    return RayCluster.model_validate(
        {
            "metadata": {"name": "demo", "namespace": "ns", "generation": 3},
            "spec": {
                "suspend": suspend,
                "headGroupSpec": {
                    "template": {
                        "spec": {"containers": [{"name": "h", "image": "ray", "resources": resources}]}
                    }
                },
                "workerGroupSpecs": [
                    {
                        "groupName": "g",
                        "replicas": 2,
                        "minReplicas": 1,
                        "maxReplicas": 4,
                        "template": {
                            "spec": {
                                "containers": [
                                    {
                                        "name": "w",
                                        "image": "ray",
                                        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
                                    }
                                ]
                            }
                        },
                    }
                ],
            },
            **({"status": status} if status else {}),
        }
    )


def pod(node_type: str, ready: bool, name: str, ip: str = "198.18.0.9") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"ray.io/node-type": node_type}},
        "status": {
            "phase": "Running",
            "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


HEADLESS = {
    "metadata": {"name": "demo-head-svc"},
    "spec": {
        "clusterIP": "None",
        "ports": [{"name": "dashboard", "port": 8265}, {"name": "gcs-server", "port": 6379}],
    },
}


def next_status(cluster: RayCluster, observed: Observed, **kwargs: Any) -> dict[str, Any]:
    """The status as it is written (its wire form)."""
    return computed.next_status(cluster, observed, **kwargs).to_dict()


def invalid_status(previous: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    return computed.invalid_status(previous, *args, **kwargs).to_dict()


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def test_a_provisioning_cluster() -> None:
    status = next_status(cluster(), Observed(), now="t1")
    assert "state" not in status
    assert conditions(status) == {
        "HeadPodReady": ("False", "HeadPodNotFound"),
        "RayClusterProvisioned": ("False", "RayClusterPodsProvisioning"),
        "RayClusterSuspended": ("False", "RayClusterSuspended"),
        "RayClusterSuspending": ("False", "RayClusterSuspending"),
    }
    assert "readyWorkerReplicas" not in status  # KubeRay's int32 counters are omitempty
    assert (status["desiredWorkerReplicas"], status["minWorkerReplicas"], status["maxWorkerReplicas"]) == (
        2,
        1,
        4,
    )
    assert (status["desiredCPU"], status["desiredMemory"], status["desiredGPU"]) == ("2", "4Gi", "0")
    assert status["observedGeneration"] == 3
    assert status["lastUpdateTime"] == "t1"


def test_ready_is_reached_once_and_stays() -> None:
    pods = (pod("head", True, "h", "198.18.0.2"), pod("worker", True, "w1"), pod("worker", True, "w2"))
    ready = next_status(cluster(), Observed(pods, HEADLESS), now="t2")
    assert ready["state"] == "ready"
    assert ready["stateTransitionTimes"] == {"ready": "t2"}
    assert conditions(ready)["RayClusterProvisioned"] == ("True", "AllPodRunningAndReadyFirstTime")
    assert conditions(ready)["HeadPodReady"] == ("True", "HeadPodRunningAndReady")
    assert ready["head"] == {
        "podIP": "198.18.0.2",
        "podName": "h",
        "serviceName": "demo-head-svc",
        "serviceIP": "198.18.0.2",
    }
    assert ready["endpoints"] == {"dashboard": "8265", "gcs-server": "6379"}
    assert (ready["readyWorkerReplicas"], ready["availableWorkerReplicas"]) == (2, 2)

    degraded = (pod("head", True, "h", "198.18.0.2"), pod("worker", False, "w1"))
    later = next_status(cluster(ready), Observed(degraded, HEADLESS), now="t3")
    assert later["state"] == "ready"  # sticky, as in KubeRay
    assert later["stateTransitionTimes"] == {"ready": "t2"}
    assert conditions(later)["RayClusterProvisioned"] == ("True", "AllPodRunningAndReadyFirstTime")
    assert "readyWorkerReplicas" not in later  # 0: omitted, as KubeRay's omitempty field
    assert later["lastUpdateTime"] == "t3"


def test_unchanged_observations_keep_the_last_update_time() -> None:
    first = next_status(cluster(), Observed(), now="t1")
    again = next_status(cluster(first), Observed(), now="t9")
    assert again["lastUpdateTime"] == "t1"
    assert again == first


def test_suspended_once_every_pod_is_gone() -> None:
    suspending = next_status(cluster(suspend=True), Observed((pod("head", True, "h"),)), now="t1")
    assert conditions(suspending)["RayClusterSuspending"] == ("True", "RayClusterSuspending")
    terminating = pod("head", False, "h")
    terminating["metadata"]["deletionTimestamp"] = "t1"
    still = next_status(cluster(suspending, suspend=True), Observed((terminating,)), now="t2")
    assert "state" not in still
    suspended = next_status(cluster(suspending, suspend=True), Observed(), now="t2")
    assert suspended["state"] == "suspended"
    assert conditions(suspended)["RayClusterSuspended"] == ("True", "RayClusterSuspended")
    assert conditions(suspended)["RayClusterSuspending"][0] == "False"
    assert conditions(suspended)["RayClusterProvisioned"][0] == "False"


def test_a_started_suspend_completes_even_if_the_flag_is_flipped_back_then_resumes() -> None:
    suspending = next_status(cluster(suspend=True), Observed((pod("head", True, "h"),)), now="t1")
    flipped = next_status(cluster(suspending, suspend=False), Observed((pod("head", True, "h"),)), now="t2")
    assert conditions(flipped)["RayClusterSuspending"][0] == "True"
    suspended = next_status(cluster(flipped, suspend=False), Observed(), now="t3")
    assert conditions(suspended)["RayClusterSuspended"][0] == "True"
    # KubeRay writes state `suspended` only while spec.suspend is set; here it is already unset.
    assert "state" not in suspended
    resumed = next_status(cluster(suspended, suspend=False), Observed(), now="t4")
    assert conditions(resumed)["RayClusterSuspended"] == ("False", "RayClusterSuspended")
    assert "state" not in resumed


def test_a_suspended_cluster_stays_suspended_while_the_flag_is_set() -> None:
    suspending = next_status(cluster(suspend=True), Observed(), now="t1")
    suspended = next_status(cluster(suspending, suspend=True), Observed(), now="t2")
    again = next_status(cluster(suspended, suspend=True), Observed(), now="t3")
    assert again["state"] == "suspended"
    assert conditions(again)["RayClusterSuspended"][0] == "True"
    assert conditions(again)["RayClusterSuspending"][0] == "False"


def test_a_create_failure_sets_replica_failure_until_a_clean_pass() -> None:
    refused = Failure(
        "FailedToCreateWorkerPod", "FailedCreateWorkerPod", "quota exceeded", RuntimeError("quota exceeded")
    )
    failed = next_status(cluster(), Observed(), now="t1", failure=refused)
    assert conditions(failed)["ReplicaFailure"] == ("True", "FailedCreateWorkerPod")
    # KubeRay's condition message (errors.Join of its reason and the apiserver's error), as seen from
    # its operator: `FailedCreateHeadPod\npods "x-head-" is forbidden: ...`.
    (failure,) = [x for x in failed["conditions"] if x["type"] == "ReplicaFailure"]
    assert failure["message"] == "FailedCreateWorkerPod\nquota exceeded"
    assert failed["conditions"][0]["type"] == "ReplicaFailure"  # set first, as KubeRay does
    assert "ReplicaFailure" not in conditions(next_status(cluster(failed), Observed(), now="t2"))


def test_an_invalid_spec_is_named_in_the_status_and_everything_else_is_kept() -> None:
    previous = {"state": "ready", "readyWorkerReplicas": 2, "observedGeneration": 2, "lastUpdateTime": "t0"}
    message = "spec.workerGroupSpecs[0].minReplicas: minReplicas (3) must not be greater than maxReplicas (1)"
    status = invalid_status(previous, "InvalidRayClusterSpec", message, generation=3, now="t1")
    assert status == {
        "state": "ready",
        "readyWorkerReplicas": 2,
        "observedGeneration": 3,
        "reason": f"InvalidRayClusterSpec: {message}",
        "lastUpdateTime": "t1",
    }
    # The same problems again: nothing changes, so nothing is written.
    assert invalid_status(status, "InvalidRayClusterSpec", message, generation=3, now="t2") == status
    assert (
        len(invalid_status({}, "InvalidRayClusterSpec", "x" * 5000, generation=1, now="t")["reason"]) == 2048
    )


def test_the_invalid_spec_reason_goes_once_the_spec_is_valid_even_before_ready() -> None:
    previous = {"reason": "InvalidRayClusterSpec: spec.headGroupSpec: required", "observedGeneration": 2}
    status = next_status(cluster(previous), Observed(), now="t1")
    assert "reason" not in status
    assert status["observedGeneration"] == 3
