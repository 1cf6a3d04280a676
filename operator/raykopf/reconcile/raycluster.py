"""The RayCluster reconcile decisions (≙ raycluster_controller.go reconcilePods and calculateStatus)."""

from __future__ import annotations

import itertools
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from raykopf import constants as c
from raykopf.api.raycluster import RayCluster, WorkerGroupSpec
from raykopf.builders import labels as labels_builder
from raykopf.builders.pod import Creator, build_head_pod, build_worker_pod, creator_of, is_autoscaling
from raykopf.config import OperatorConfig
from raykopf.reconcile import pods as podstate
from raykopf.reconcile.actions import Actions, Create, Delete, Event, Patch
from raykopf.reconcile.hashing import recreate_hash


@dataclass(frozen=True)
class Observed:
    """The cluster's children as listed from the apiserver."""

    pods: tuple[dict[str, Any], ...] = ()
    head_service: dict[str, Any] | None = None


def random_suffix() -> str:
    """Five lowercase alphanumerics, as Kubernetes' generateName uses."""
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=5))


# Pods one pass builds and creates at most: a RayCluster asking for thousands more never holds the
# event loop for long (about 0.1 ms a body), and the work queue serves other objects in between.
MAX_CREATES_PER_PASS = 500


def _budget(plan: Actions) -> int:
    return max(MAX_CREATES_PER_PASS - len(plan.creates), 0)


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
    cluster: RayCluster,
    observed: Observed,
    config: OperatorConfig,
    creator: Creator | None = None,
    *,
    suffix: Callable[[], str] = random_suffix,
) -> Actions:
    """Suspend first, then Recreate upgrades, the head, and each worker group: replace failed Pods,
    honour workersToDelete, scale to the effective replica count. With autoscaling on, only the
    autoscaler chooses which workers go. `suffix` names multi-host replicas (injected for tests)."""
    plan = Actions()
    creator = creator or creator_of(cluster)
    namespace = cluster.metadata.namespace or "default"
    live = [p for p in observed.pods if not podstate.is_terminating(p)]
    true = {
        x.type for x in (cluster.status.conditions if cluster.status else None) or [] if x.status == "True"
    }
    if "RayClusterSuspending" in true:
        # Atomic: once Suspending is recorded, every Pod goes even if `suspend` is flipped back.
        plan.deletes += [Delete("Pod", namespace, podstate.name(p), "DeletedPod") for p in live]
        return plan
    if cluster.spec.suspend:
        return plan  # Suspended, or Suspending is written by this pass's status first
    heads = [p for p in live if podstate.node_type(p) == c.HEAD_NODE]
    expected_hash = _recreate_hash(cluster)
    if expected_hash and len(heads) == 1:
        head = heads[0]
        annotations = head["metadata"].get("annotations") or {}
        version = annotations.get(c.KUBERAY_VERSION_ANNOTATION, "")
        if version and version != c.OPERATOR_VERSION:
            # Another operator version built these Pods: adopt them instead of recreating everything.
            plan.patches.append(
                Patch(
                    "Pod",
                    namespace,
                    podstate.name(head),
                    {
                        "metadata": {
                            "annotations": {
                                c.UPGRADE_STRATEGY_RECREATE_HASH_ANNOTATION: expected_hash,
                                c.KUBERAY_VERSION_ANNOTATION: c.OPERATOR_VERSION,
                            }
                        }
                    },
                )
            )
        elif annotations.get(c.UPGRADE_STRATEGY_RECREATE_HASH_ANNOTATION, expected_hash) != expected_hash:
            plan.deletes += [Delete("Pod", namespace, podstate.name(p), "DeletedPod") for p in live]
            plan.events.append(
                Event(
                    "Normal",
                    "DeletedPod",
                    "Deleted every Pod: the spec changed and upgradeStrategy is Recreate",
                )
            )
            return plan
    if not heads:
        if "RayClusterProvisioned" in true and (
            (cluster.metadata.annotations or {}).get(c.DISABLE_PROVISIONED_HEAD_RESTART_ANNOTATION) == "true"
        ):
            pass  # a RayJob in SidecarMode: a new head could not rerun the job
        else:
            body = _owned(build_head_pod(cluster, config, creator), cluster)
            # Every head carries the spec hash and the operator's version, whatever the strategy
            # (KubeRay's createHeadPod), so that switching to Recreate later has a hash to compare.
            body["metadata"].setdefault("annotations", {}).update(
                {
                    c.UPGRADE_STRATEGY_RECREATE_HASH_ANNOTATION: recreate_hash(cluster.to_dict()["spec"]),
                    c.KUBERAY_VERSION_ANNOTATION: c.OPERATOR_VERSION,
                }
            )
            plan.creates.append(Create(body, "CreatedHeadPod", first=True))
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
            suffix=suffix,
        )
    return plan


def plan_group(
    plan: Actions,
    cluster: RayCluster,
    group: WorkerGroupSpec,
    pods: list[dict[str, Any]],
    config: OperatorConfig,
    creator: Creator,
    *,
    autoscaling: bool,
    suffix: Callable[[], str] = random_suffix,
) -> None:
    namespace = cluster.metadata.namespace or "default"
    remaining = sorted(pods, key=podstate.name)
    if group.suspend:
        plan.deletes += [Delete("Pod", namespace, podstate.name(p), "DeletedWorkerPod") for p in remaining]
        return
    if group.num_of_hosts > 1:
        plan_multi_host_group(
            plan, cluster, group, remaining, config, creator, autoscaling=autoscaling, suffix=suffix
        )
        return
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
        used = {_replica_index(p) for p in remaining}
        free = (i for i in itertools.count() if i not in used)
        now = min(diff, _budget(plan))
        plan.truncated = plan.truncated or now < diff
        for _ in range(now):
            body = build_worker_pod(cluster, group, config, creator, replica_index=next(free))
            plan.creates.append(Create(_owned(body, cluster), "CreatedWorkerPod"))
    elif diff < 0 and (not autoscaling or config.enable_random_pod_delete):
        for pod in remaining[:-diff]:
            plan.deletes.append(Delete("Pod", namespace, podstate.name(pod), "DeletedWorkerPod"))


def _replica_index(pod: dict[str, Any]) -> int:
    return int((pod["metadata"].get("labels") or {}).get(c.RAY_WORKER_REPLICA_INDEX_LABEL, -1))


def plan_multi_host_group(
    plan: Actions,
    cluster: RayCluster,
    group: WorkerGroupSpec,
    pods: list[dict[str, Any]],
    config: OperatorConfig,
    creator: Creator,
    *,
    autoscaling: bool,
    suffix: Callable[[], str],
) -> None:
    """`numOfHosts > 1`: a replica is `numOfHosts` Pods sharing `ray.io/worker-group-replica-name`, and
    is created and deleted as a whole. An incomplete or unhealthy replica, or one named (through any
    of its Pods) in workersToDelete, is deleted entirely; nothing is created in that pass."""
    namespace = cluster.metadata.namespace or "default"
    replicas: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        replica = (pod["metadata"].get("labels") or {}).get(c.RAY_WORKER_REPLICA_NAME_LABEL, "")
        replicas.setdefault(replica, []).append(pod)
    to_delete = set((group.scale_strategy.workers_to_delete if group.scale_strategy else None) or [])
    doomed = [
        name
        for name, members in sorted(replicas.items())
        if len(members) < group.num_of_hosts
        or not name
        or any(podstate.should_delete(p)[0] or podstate.name(p) in to_delete for p in members)
    ]
    for name in doomed:
        for pod in replicas.pop(name):
            plan.deletes.append(Delete("Pod", namespace, podstate.name(pod), "DeletedWorkerPod"))
    if doomed:
        return
    wanted = effective_replicas(group) // group.num_of_hosts
    diff = wanted - len(replicas)
    if diff > 0:
        used = {_replica_index(members[0]) for members in replicas.values()}
        free = (i for i in itertools.count() if i not in used)
        # Whole replicas only; one per pass even when it alone is larger than the budget.
        budget = _budget(plan)
        now = min(diff, max(budget // group.num_of_hosts, 1)) if budget else 0
        plan.truncated = plan.truncated or now < diff
        for _ in range(now):
            index, name = next(free), f"{group.group_name}-{suffix()}"
            for host in range(group.num_of_hosts):
                body = build_worker_pod(
                    cluster, group, config, creator, replica_index=index, host_index=host, replica_name=name
                )
                plan.creates.append(Create(_owned(body, cluster), "CreatedWorkerPod"))
    elif diff < 0 and (not autoscaling or config.enable_random_pod_delete):
        for name in sorted(replicas)[:-diff]:
            for pod in replicas[name]:
                plan.deletes.append(Delete("Pod", namespace, podstate.name(pod), "DeletedWorkerPod"))


def _recreate_hash(cluster: RayCluster) -> str | None:
    strategy = cluster.spec.upgrade_strategy
    if strategy is None or strategy.type != "Recreate":
        return None
    return recreate_hash(cluster.to_dict()["spec"])
