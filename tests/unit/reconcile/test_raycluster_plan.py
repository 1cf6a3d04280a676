"""RayCluster scaling decisions, table by table (≙ KubeRay's reconcilePods unit tests)."""

from __future__ import annotations

import itertools
from typing import Any

from raykopf.api import RayCluster
from raykopf.config import OperatorConfig
from raykopf.reconcile.raycluster import Observed, effective_replicas, plan_pods

CONFIG = OperatorConfig()
_names = itertools.count()


def cluster(replicas: int = 2, *, autoscaling: bool = False, **group: Any) -> RayCluster:
    return RayCluster.model_validate(
        {
            "metadata": {"name": "demo", "namespace": "ns", "uid": "uid-1"},
            "spec": {
                "enableInTreeAutoscaling": autoscaling,
                "headGroupSpec": {
                    "template": {"spec": {"containers": [{"name": "ray-head", "image": "ray"}]}}
                },
                "workerGroupSpecs": [
                    {
                        "groupName": "small",
                        "replicas": replicas,
                        "minReplicas": 0,
                        "maxReplicas": 5,
                        "template": {"spec": {"containers": [{"name": "ray-worker", "image": "ray"}]}},
                        **group,
                    }
                ],
            },
        }
    )


def pod(
    node_type: str,
    *,
    phase: str = "Running",
    name: str | None = None,
    terminating: bool = False,
    index: int | None = None,
) -> dict[str, Any]:
    labels = {"ray.io/node-type": node_type, "ray.io/group": "headgroup" if node_type == "head" else "small"}
    if index is not None:
        labels["ray.io/worker-group-replica-index"] = str(index)
    meta: dict[str, Any] = {"name": name or f"{node_type}-{next(_names)}", "labels": labels}
    if terminating:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "spec": {"containers": [{"name": "ray"}]}, "status": {"phase": phase}}


def summary(plan: Any) -> tuple[list[str], list[str]]:
    return [c.reason for c in plan.creates], sorted(d.name for d in plan.deletes)


def test_a_new_cluster_gets_its_head_and_workers_with_owner_references() -> None:
    plan = plan_pods(cluster(2), Observed(), CONFIG)
    assert summary(plan) == (["CreatedHeadPod", "CreatedWorkerPod", "CreatedWorkerPod"], [])
    owners = {tuple(r["uid"] for r in c.body["metadata"]["ownerReferences"]) for c in plan.creates}
    assert owners == {("uid-1",)}
    indices = [
        c.body["metadata"]["labels"].get("ray.io/worker-group-replica-index") for c in plan.creates[1:]
    ]
    assert indices == ["0", "1"]


def test_missing_workers_are_created_with_free_replica_indices() -> None:
    plan = plan_pods(cluster(3), Observed((pod("head"), pod("worker", index=0))), CONFIG)
    assert summary(plan) == (["CreatedWorkerPod", "CreatedWorkerPod"], [])
    assert [c.body["metadata"]["labels"]["ray.io/worker-group-replica-index"] for c in plan.creates] == [
        "1",
        "2",
    ]


def test_replicas_are_clamped_to_min_and_max_and_multiplied_by_hosts() -> None:
    assert effective_replicas((cluster(9).spec.worker_group_specs or [])[0]) == 5
    assert effective_replicas((cluster(0, minReplicas=1).spec.worker_group_specs or [])[0]) == 1
    assert effective_replicas((cluster(2, numOfHosts=4).spec.worker_group_specs or [])[0]) == 8
    assert effective_replicas((cluster(2, suspend=True).spec.worker_group_specs or [])[0]) == 0


def test_surplus_workers_are_deleted_only_without_autoscaling() -> None:
    pods = (pod("head"), pod("worker", name="w-a"), pod("worker", name="w-b"), pod("worker", name="w-c"))
    assert summary(plan_pods(cluster(1), Observed(pods), CONFIG)) == ([], ["w-a", "w-b"])
    assert summary(plan_pods(cluster(1, autoscaling=True), Observed(pods), CONFIG)) == ([], [])
    random_delete = OperatorConfig(enable_random_pod_delete=True)
    assert summary(plan_pods(cluster(1, autoscaling=True), Observed(pods), random_delete)) == (
        [],
        ["w-a", "w-b"],
    )


def test_workers_to_delete_are_always_honoured_and_never_cleared() -> None:
    demo = cluster(1, autoscaling=True, scaleStrategy={"workersToDelete": ["w-b", "gone-already"]})
    pods = (pod("head"), pod("worker", name="w-a"), pod("worker", name="w-b"))
    plan = plan_pods(demo, Observed(pods), CONFIG)
    assert summary(plan) == ([], ["w-b"])
    assert (demo.spec.worker_group_specs or [])[0].scale_strategy.workers_to_delete == ["w-b", "gone-already"]  # type: ignore[union-attr]


def test_failed_workers_are_replaced_in_the_next_pass() -> None:
    pods = (pod("head"), pod("worker", name="w-ok"), pod("worker", name="w-bad", phase="Failed"))
    assert summary(plan_pods(cluster(2), Observed(pods), CONFIG)) == ([], ["w-bad"])
    assert summary(plan_pods(cluster(2), Observed((pod("head"), pod("worker", name="w-ok"))), CONFIG)) == (
        ["CreatedWorkerPod"],
        [],
    )


def test_terminating_pods_do_not_count() -> None:
    pods = (pod("head"), pod("worker", terminating=True), pod("worker"))
    assert summary(plan_pods(cluster(2), Observed(pods), CONFIG)) == (["CreatedWorkerPod"], [])


def test_a_finished_head_is_deleted_and_recreated_next_pass() -> None:
    plan = plan_pods(cluster(0), Observed((pod("head", name="h", phase="Succeeded"),)), CONFIG)
    assert summary(plan) == ([], ["h"])
    assert [e.reason for e in plan.events] == ["DeletedHeadPod"]
    assert summary(plan_pods(cluster(0), Observed(), CONFIG)) == (["CreatedHeadPod"], [])


def test_two_heads_are_reported_not_guessed_at() -> None:
    plan = plan_pods(cluster(0), Observed((pod("head", name="h1"), pod("head", name="h2"))), CONFIG)
    assert summary(plan) == ([], [])
    assert plan.events[0].type == "Warning"


def test_suspend_deletes_every_pod() -> None:
    demo = cluster(2)
    demo.spec.suspend = True
    pods = (pod("head", name="h"), pod("worker", name="w"))
    assert summary(plan_pods(demo, Observed(pods), CONFIG)) == ([], ["h", "w"])
