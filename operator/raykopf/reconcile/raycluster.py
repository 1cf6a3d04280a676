"""The RayCluster reconcile decisions (≙ raycluster_controller.go reconcilePods and calculateStatus)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from raykopf import constants as c
from raykopf.api.raycluster import RayCluster, WorkerGroupSpec
from raykopf.builders import labels as labels_builder
from raykopf.builders.pod import RAYCLUSTER_CREATOR, Creator, build_head_pod, build_worker_pod, is_autoscaling
from raykopf.config import OperatorConfig
from raykopf.reconcile import pods as podstate
from raykopf.reconcile.plan import Create, Delete, Event, Plan


@dataclass(frozen=True)
class Observed:
    """The cluster's children as listed from the apiserver."""

    pods: tuple[dict[str, Any], ...] = ()
    head_service: dict[str, Any] | None = None


def effective_replicas(group: WorkerGroupSpec) -> int:
    """clamp(replicas, min, max) x numOfHosts; 0 for a suspended group."""
    if group.suspend:
        return 0
    low = group.min_replicas or 0
    high = group.max_replicas if group.max_replicas is not None else 2**31 - 1
    replicas = group.replicas if group.replicas is not None else 0
    return max(low, min(replicas, high)) * max(group.num_of_hosts, 1)


def _owned(body: dict[str, Any], cluster: RayCluster) -> dict[str, Any]:
    return labels_builder.owned_by(body, name=cluster.metadata.name or "", uid=cluster.metadata.uid)


def plan_pods(
    cluster: RayCluster, observed: Observed, config: OperatorConfig, creator: Creator = RAYCLUSTER_CREATOR
) -> Plan:
    """Head first, then each worker group: replace failed Pods, honour workersToDelete, scale to the
    effective replica count. With autoscaling on, only the autoscaler chooses which workers go."""
    plan = Plan()
    namespace = cluster.metadata.namespace or "default"
    live = [p for p in observed.pods if not podstate.is_terminating(p)]
    if cluster.spec.suspend:
        for pod in live:
            plan.deletes.append(Delete("Pod", namespace, podstate.name(pod), "DeletedPod"))
        return plan
    heads = [p for p in live if podstate.node_type(p) == c.HEAD_NODE]
    if not heads:
        plan.creates.append(
            Create(_owned(build_head_pod(cluster, config, creator), cluster), "CreatedHeadPod")
        )
    elif len(heads) == 1:
        unhealthy, why = podstate.should_delete(heads[0])
        if unhealthy:
            plan.deletes.append(Delete("Pod", namespace, podstate.name(heads[0]), "DeletedHeadPod"))
            plan.events.append(
                Event("Normal", "DeletedHeadPod", f"Deleted head Pod {podstate.name(heads[0])}: {why}")
            )
    else:
        names = ", ".join(sorted(podstate.name(p) for p in heads))
        plan.events.append(
            Event("Warning", "FailedToCreateHeadPod", f"{len(heads)} head Pods found ({names}); expected one")
        )
    autoscaling = is_autoscaling(cluster)
    for group in cluster.spec.worker_group_specs or []:
        plan_group(
            plan,
            cluster,
            group,
            [
                p
                for p in live
                if podstate.node_type(p) == c.WORKER_NODE and podstate.group(p) == group.group_name
            ],
            config,
            creator,
            autoscaling=autoscaling,
        )
    return plan


def plan_group(
    plan: Plan,
    cluster: RayCluster,
    group: WorkerGroupSpec,
    pods: list[dict[str, Any]],
    config: OperatorConfig,
    creator: Creator,
    *,
    autoscaling: bool,
) -> None:
    namespace = cluster.metadata.namespace or "default"
    remaining = sorted(pods, key=podstate.name)
    unhealthy = [p for p in remaining if podstate.should_delete(p)[0]]
    for pod in unhealthy:
        plan.deletes.append(Delete("Pod", namespace, podstate.name(pod), "DeletedWorkerPod"))
    if unhealthy:
        return  # as KubeRay: nothing is created in the pass that removed failed workers
    to_delete = set((group.scale_strategy.workers_to_delete if group.scale_strategy else None) or [])
    for pod in remaining:
        if podstate.name(pod) in to_delete:
            plan.deletes.append(Delete("Pod", namespace, podstate.name(pod), "DeletedWorkerPod"))
    remaining = [p for p in remaining if podstate.name(p) not in to_delete]
    diff = effective_replicas(group) - len(remaining)
    if diff > 0:
        used = {
            int((p["metadata"].get("labels") or {}).get(c.RAY_WORKER_REPLICA_INDEX_LABEL, -1))
            for p in remaining
        }
        free = (i for i in range(10**6) if i not in used)
        for _ in range(diff):
            body = build_worker_pod(cluster, group, config, creator, replica_index=next(free))
            plan.creates.append(Create(_owned(body, cluster), "CreatedWorkerPod"))
    elif diff < 0 and (not autoscaling or config.enable_random_pod_delete):
        for pod in remaining[:-diff]:
            plan.deletes.append(Delete("Pod", namespace, podstate.name(pod), "DeletedWorkerPod"))
