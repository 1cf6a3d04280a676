"""RayCluster scaling decisions, table by table (≙ KubeRay's reconcilePods unit tests)."""

from __future__ import annotations

import itertools
from typing import Any

from raykopf.api import RayCluster
from raykopf.config import OperatorConfig
from raykopf.reconcile.raycluster import MAX_CREATES_PER_PASS, Observed, effective_replicas, plan_pods

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


def with_conditions(demo: RayCluster, *kinds: str) -> RayCluster:
    data = demo.to_dict()
    data["status"] = {
        "conditions": [
            {
                "type": k,
                "status": "True",
                "reason": k,
                "message": "",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
            for k in kinds
        ]
    }
    return RayCluster.model_validate(data)


def test_suspend_is_committed_first_then_deletes_every_pod_atomically() -> None:
    pods = (pod("head", name="h"), pod("worker", name="w"))
    requested = cluster(2)
    requested.spec.suspend = True
    assert summary(plan_pods(requested, Observed(pods), CONFIG)) == ([], [])  # Suspending is written first
    suspending = with_conditions(requested, "RayClusterSuspending")
    assert summary(plan_pods(suspending, Observed(pods), CONFIG)) == ([], ["h", "w"])
    flipped_back = with_conditions(cluster(2), "RayClusterSuspending")  # suspend: false, mid-suspend
    assert summary(plan_pods(flipped_back, Observed(pods), CONFIG)) == ([], ["h", "w"])


def test_a_suspended_cluster_stays_empty_until_resumed() -> None:
    suspended = with_conditions(cluster(2), "RayClusterSuspended")
    still = suspended.model_copy(deep=True)
    still.spec.suspend = True
    assert summary(plan_pods(still, Observed(), CONFIG)) == ([], [])
    assert summary(plan_pods(suspended, Observed(), CONFIG)) == (
        ["CreatedHeadPod", "CreatedWorkerPod", "CreatedWorkerPod"],
        [],
    )


def test_a_suspended_worker_group_loses_its_pods_and_only_those() -> None:
    demo = cluster(2, suspend=True)
    pods = (pod("head", name="h"), pod("worker", name="w1"), pod("worker", name="w2"))
    assert summary(plan_pods(demo, Observed(pods), CONFIG)) == ([], ["w1", "w2"])
    assert summary(plan_pods(demo, Observed((pod("head", name="h"),)), CONFIG)) == ([], [])


def host(replica: str, index: int, host_index: int, *, phase: str = "Running") -> dict[str, Any]:
    item = pod("worker", name=f"{replica}-h{host_index}", index=index, phase=phase)
    item["metadata"]["labels"].update(
        {"ray.io/worker-group-replica-name": replica, "ray.io/replica-host-index": str(host_index)}
    )
    return item


def test_multi_host_replicas_are_created_whole_with_their_labels() -> None:
    names = iter(["aaaaa", "bbbbb"])
    plan = plan_pods(cluster(2, numOfHosts=2), Observed((pod("head"),)), CONFIG, suffix=lambda: next(names))
    labels = [c.body["metadata"]["labels"] for c in plan.creates]
    assert [
        (
            x["ray.io/worker-group-replica-name"],
            x["ray.io/worker-group-replica-index"],
            x["ray.io/replica-host-index"],
        )
        for x in labels
    ] == [
        ("small-aaaaa", "0", "0"),
        ("small-aaaaa", "0", "1"),
        ("small-bbbbb", "1", "0"),
        ("small-bbbbb", "1", "1"),
    ]


def test_an_incomplete_or_unhealthy_multi_host_replica_is_deleted_whole_before_anything_is_created() -> None:
    demo = cluster(2, numOfHosts=2)
    incomplete = (pod("head"), host("r1", 0, 0), host("r1", 0, 1), host("r2", 1, 0))
    assert summary(plan_pods(demo, Observed(incomplete), CONFIG)) == ([], ["r2-h0"])
    unhealthy = (
        pod("head"),
        host("r1", 0, 0),
        host("r1", 0, 1, phase="Failed"),
        host("r2", 1, 0),
        host("r2", 1, 1),
    )
    assert summary(plan_pods(demo, Observed(unhealthy), CONFIG)) == ([], ["r1-h0", "r1-h1"])
    refill = plan_pods(
        demo, Observed((pod("head"), host("r2", 1, 0), host("r2", 1, 1))), CONFIG, suffix=lambda: "c"
    )
    assert [c.body["metadata"]["labels"]["ray.io/worker-group-replica-index"] for c in refill.creates] == [
        "0",
        "0",
    ]


def test_workers_to_delete_naming_one_host_removes_its_whole_replica() -> None:
    demo = cluster(1, autoscaling=True, numOfHosts=2, scaleStrategy={"workersToDelete": ["r2-h1"]})
    pods = (pod("head"), host("r1", 0, 0), host("r1", 0, 1), host("r2", 1, 0), host("r2", 1, 1))
    assert summary(plan_pods(demo, Observed(pods), CONFIG)) == ([], ["r2-h0", "r2-h1"])


def test_multi_host_scale_down_removes_whole_replicas() -> None:
    pods = (pod("head"), host("r1", 0, 0), host("r1", 0, 1), host("r2", 1, 0), host("r2", 1, 1))
    assert summary(plan_pods(cluster(1, numOfHosts=2), Observed(pods), CONFIG)) == ([], ["r1-h0", "r1-h1"])


def recreate_cluster(**changes: Any) -> RayCluster:
    data = cluster(2).to_dict()
    data["spec"]["upgradeStrategy"] = {"type": "Recreate"}
    for group in data["spec"]["workerGroupSpecs"]:
        group.update(changes)
    return RayCluster.model_validate(data)


def test_recreate_stamps_the_head_with_the_spec_hash_and_deletes_every_pod_when_it_changes() -> None:
    head = plan_pods(recreate_cluster(), Observed(), CONFIG).creates[0].body
    annotations = head["metadata"]["annotations"]
    stamp = annotations["ray.io/upgrade-strategy-recreate-hash"]
    assert annotations["ray.io/kuberay-version"] == "raykopf-v0.1.0"
    running = pod("head", name="h")
    running["metadata"]["annotations"] = dict(annotations)
    pods = (running, pod("worker", name="w1"), pod("worker", name="w2"))
    # Scaling and autoscaler fields are not a spec change.
    scaled = recreate_cluster(replicas=3, maxReplicas=9, scaleStrategy={"workersToDelete": ["w1"]})
    assert plan_pods(scaled, Observed(pods), CONFIG).creates[0].reason == "CreatedWorkerPod"
    changed = recreate_cluster(rayStartParams={"num-cpus": "2"})
    plan = plan_pods(changed, Observed(pods), CONFIG)
    assert summary(plan) == ([], ["h", "w1", "w2"])
    assert "Recreate" in plan.events[0].message
    assert (
        stamp
        != plan_pods(changed, Observed(), CONFIG)
        .creates[0]
        .body["metadata"]["annotations"]["ray.io/upgrade-strategy-recreate-hash"]
    )


def test_recreate_adopts_pods_built_by_another_operator_version_instead_of_recreating() -> None:
    running = pod("head", name="h")
    running["metadata"]["annotations"] = {
        "ray.io/upgrade-strategy-recreate-hash": "kuberay-hash",
        "ray.io/kuberay-version": "v1.7.0",
    }
    plan = plan_pods(
        recreate_cluster(), Observed((running, pod("worker", name="w1"), pod("worker", name="w2"))), CONFIG
    )
    assert plan.deletes == []
    assert [(p.name, p.body["metadata"]["annotations"]["ray.io/kuberay-version"]) for p in plan.patches] == [
        ("h", "raykopf-v0.1.0")
    ]


def test_a_provisioned_sidecar_job_cluster_does_not_restart_its_head() -> None:
    data = with_conditions(cluster(0), "RayClusterProvisioned").to_dict()
    data["metadata"]["annotations"] = {"ray.io/disable-provisioned-head-restart": "true"}
    assert summary(plan_pods(RayCluster.model_validate(data), Observed(), CONFIG)) == ([], [])


def test_a_huge_replica_count_is_created_a_bounded_batch_per_pass() -> None:
    """`replicas: 2147483647` with no maxReplicas: a pass builds MAX_CREATES_PER_PASS bodies (not two
    billion) and says that more are to come."""
    huge = cluster(2**31 - 1, maxReplicas=None)
    plan = plan_pods(huge, Observed(), CONFIG)
    assert len(plan.creates) == MAX_CREATES_PER_PASS
    assert plan.creates[0].reason == "CreatedHeadPod"
    assert plan.truncated
    assert not plan_pods(cluster(3), Observed(), CONFIG).truncated
    # The next pass goes on from the free replica indices.
    made = tuple(pod("worker", index=i) for i in range(MAX_CREATES_PER_PASS - 1))
    later = plan_pods(huge, Observed((pod("head"), *made)), CONFIG)
    labels = [c.body["metadata"]["labels"]["ray.io/worker-group-replica-index"] for c in later.creates]
    assert labels[:2] == [str(MAX_CREATES_PER_PASS - 1), str(MAX_CREATES_PER_PASS)]
    assert len(later.creates) == MAX_CREATES_PER_PASS


def test_multi_host_replicas_stay_whole_under_the_per_pass_bound() -> None:
    plan = plan_pods(cluster(1000, maxReplicas=None, numOfHosts=7), Observed((pod("head"),)), CONFIG)
    assert len(plan.creates) == (MAX_CREATES_PER_PASS // 7) * 7
    assert plan.truncated
    wide = plan_pods(cluster(2, numOfHosts=MAX_CREATES_PER_PASS + 1), Observed((pod("head"),)), CONFIG)
    assert len(wide.creates) == MAX_CREATES_PER_PASS + 1  # one whole replica, however wide
    assert wide.truncated
