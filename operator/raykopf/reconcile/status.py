"""The RayCluster status (≙ calculateStatus), computed from the spec and the observed Pods."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from raykopf import constants as c
from raykopf import quantity
from raykopf.api.raycluster import RayCluster, RayClusterStatus
from raykopf.reconcile import conditions as cond
from raykopf.reconcile import pods as podstate
from raykopf.reconcile.actions import Failure
from raykopf.reconcile.raycluster import Observed, effective_replicas

READY = "ready"
SUSPENDED = "suspended"
# `reason` of an invalid RayCluster starts with KubeRay's event reason.
INVALID_REASONS = (c.INVALID_RAYCLUSTER_SPEC, c.INVALID_RAYCLUSTER_METADATA)
REASON_LIMIT = 2048
# Fields whose change is worth a status write (KubeRay's inconsistency check ignores desired resources).
_COMPARED = (
    "state",
    "reason",
    "desiredWorkerReplicas",
    "minWorkerReplicas",
    "maxWorkerReplicas",
    "readyWorkerReplicas",
    "availableWorkerReplicas",
    "endpoints",
    "head",
    "conditions",
    "observedGeneration",
)


OMITTED_WHEN_ZERO = (
    "readyWorkerReplicas",
    "availableWorkerReplicas",
    "desiredWorkerReplicas",
    "minWorkerReplicas",
    "maxWorkerReplicas",
)


def _pod_resources(template: dict[str, Any]) -> dict[str, tuple[Decimal, bool]]:
    """(amount, written in binary) per resource of a Pod: requests take precedence over limits
    (KubeRay's utils.CalculatePodResource); the first container's quantity sets the format."""
    totals: dict[str, tuple[Decimal, bool]] = {}
    for container in template.get("spec", {}).get("containers") or []:
        resources = container.get("resources") or {}
        amounts = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
        for key, value in amounts.items():
            amount, binary = totals.get(key, (Decimal(0), quantity.is_binary(value)))
            totals[key] = (amount + quantity.parse(value), binary)
    return totals


def desired_resources(cluster: RayCluster) -> dict[str, str]:
    """desiredCPU, desiredMemory, desiredGPU, desiredTPU, written as Go's resource.Quantity writes
    the sums KubeRay makes (the head first, then each group times its replicas)."""
    totals = _pod_resources(cluster.spec.head_group_spec.template)
    for group in cluster.spec.worker_group_specs or []:
        for key, (value, binary) in _pod_resources(group.template).items():
            amount, first_binary = totals.get(key, (Decimal(0), binary))
            totals[key] = (amount + value * effective_replicas(group), first_binary)

    def written(key: str) -> str:
        amount, binary = totals.get(key, (Decimal(0), False))
        return quantity.canonical(amount, binary=binary)

    gpus = [key for key in totals if key.endswith("gpu")]
    gpu = sum((totals[key][0] for key in gpus), Decimal(0))
    return {
        "desiredCPU": written("cpu"),
        "desiredMemory": written("memory"),
        "desiredGPU": quantity.canonical(gpu, binary=False),
        "desiredTPU": written("google.com/tpu"),
    }


def _head_info(head: dict[str, Any] | None, service: dict[str, Any] | None) -> dict[str, str]:
    info: dict[str, str] = {}
    if head is not None:
        if head.get("status", {}).get("podIP"):
            info["podIP"] = head["status"]["podIP"]
        info["podName"] = podstate.name(head)
    if service is not None:
        info["serviceName"] = service["metadata"]["name"]
        cluster_ip = service.get("spec", {}).get("clusterIP")
        service_ip = info.get("podIP") if cluster_ip in (None, "", "None") else cluster_ip
        if service_ip:
            info["serviceIP"] = service_ip
    return info


def _endpoints(service: dict[str, Any] | None) -> dict[str, str]:
    if service is None:
        return {}
    result = {}
    for port in service.get("spec", {}).get("ports") or []:
        value = (
            port.get("nodePort")
            if service.get("spec", {}).get("type") == "NodePort" and port.get("nodePort")
            else port.get("targetPort", port.get("port"))
        )
        result[str(port.get("name", ""))] = str(value)
    return result


def next_status(
    cluster: RayCluster, observed: Observed, *, now: str, failure: Failure | None = None
) -> RayClusterStatus:
    """The status this pass should write; `state` is sticky `ready` as in KubeRay."""
    previous = cluster.to_dict().get("status") or {}
    status = copy.deepcopy(previous)
    if str(status.get("reason", "")).startswith(INVALID_REASONS):
        status.pop("reason")  # the spec is valid again (only valid clusters get here)
    conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
    live = [p for p in observed.pods if not podstate.is_terminating(p)]
    workers = [p for p in live if podstate.node_type(p) == c.WORKER_NODE]
    heads = [p for p in live if podstate.node_type(p) == c.HEAD_NODE]
    head = heads[0] if heads else None
    groups = cluster.spec.worker_group_specs or []
    desired_workers = sum(effective_replicas(g) for g in groups)
    status.update(
        desiredWorkerReplicas=desired_workers,
        minWorkerReplicas=sum(
            (g.min_replicas or 0) * max(g.num_of_hosts, 1) for g in groups if not g.suspend
        ),
        maxWorkerReplicas=sum(
            min(
                (g.max_replicas if g.max_replicas is not None else 2**31 - 1) * max(g.num_of_hosts, 1),
                2**31 - 1,
            )
            for g in groups
            if not g.suspend
        )
        if groups
        else 0,
        readyWorkerReplicas=sum(1 for p in workers if podstate.is_ready(p)),
        availableWorkerReplicas=sum(1 for p in workers if podstate.phase(p) == "Running"),
        observedGeneration=cluster.metadata.generation,
        **desired_resources(cluster),
    )
    status["maxWorkerReplicas"] = min(status["maxWorkerReplicas"], 2**31 - 1)
    for counter in OMITTED_WHEN_ZERO:  # int32 `omitempty` fields of KubeRay's RayClusterStatus
        if status.get(counter) == 0:
            status.pop(counter)
    head_info = _head_info(head, observed.head_service)
    if head_info:
        status["head"] = head_info
    endpoints = _endpoints(observed.head_service)
    if endpoints:
        status["endpoints"] = endpoints

    generation = cluster.metadata.generation
    if failure is not None:
        # KubeRay's message is errors.Join(reason, apiserver error): the two on separate lines.
        reason = failure.replica_failure or failure.reason
        cond.set_condition(
            conditions, "ReplicaFailure", True, reason, f"{reason}\n{failure.message}", now, generation
        )
    else:
        cond.remove(conditions, "ReplicaFailure")
    all_ready = bool(head) and len(live) == desired_workers + 1 and all(podstate.is_ready(p) for p in live)
    if all_ready and failure is None:
        status["state"] = READY
        status.pop("reason", None)
    if head is None:
        cond.set_condition(
            conditions, "HeadPodReady", False, "HeadPodNotFound", "Head Pod not found", now, generation
        )
    else:
        ready, reason, message = head_pod_ready(head)
        cond.set_condition(conditions, "HeadPodReady", ready, reason, message, now, generation)

    # KubeRay's RayClusterStatusConditions logic (raycluster_controller.calculateStatus), step by step.
    suspend_status = next(
        (
            x.get("type")
            for x in conditions
            if x.get("type") in ("RayClusterSuspending", "RayClusterSuspended") and x.get("status") == "True"
        ),
        "",
    )
    if not cond.is_true(conditions, "RayClusterProvisioned") and suspend_status != "RayClusterSuspended":
        if all_ready:
            cond.set_condition(
                conditions,
                "RayClusterProvisioned",
                True,
                "AllPodRunningAndReadyFirstTime",
                "All Ray Pods are ready for the first time",
                now,
                generation,
            )
        else:
            cond.set_condition(
                conditions,
                "RayClusterProvisioned",
                False,
                "RayClusterPodsProvisioning",
                "RayCluster Pods are being provisioned for first time",
                now,
                generation,
            )
    if suspend_status == "RayClusterSuspending":
        # Suspending is committed first; the Pods are deleted, and it finishes even if `suspend` is
        # flipped back meanwhile (KubeRay's atomic suspend). Terminating Pods still count.
        if not observed.pods:
            cond.set_condition(
                conditions,
                "RayClusterProvisioned",
                False,
                "RayClusterPodsProvisioning",
                "RayCluster has been suspended",
                now,
                generation,
            )
            cond.set_condition(
                conditions, "RayClusterSuspending", False, "RayClusterSuspending", "", now, generation
            )
            cond.set_condition(
                conditions, "RayClusterSuspended", True, "RayClusterSuspended", "", now, generation
            )
    elif suspend_status == "RayClusterSuspended":
        if not cluster.spec.suspend:
            cond.set_condition(
                conditions, "RayClusterSuspended", False, "RayClusterSuspended", "", now, generation
            )
    else:
        cond.set_condition(
            conditions, "RayClusterSuspended", False, "RayClusterSuspended", "", now, generation
        )
        cond.set_condition(
            conditions,
            "RayClusterSuspending",
            bool(cluster.spec.suspend),
            "RayClusterSuspending",
            "",
            now,
            generation,
        )
    if cluster.spec.suspend and not observed.pods:
        status["state"] = SUSPENDED
    if status.get("state") and status.get("state") != previous.get("state"):
        status.setdefault("stateTransitionTimes", {})[status["state"]] = now
    if _changed(previous, status):
        status["lastUpdateTime"] = now
    else:
        status["lastUpdateTime"] = previous.get("lastUpdateTime", now)
    return RayClusterStatus.model_validate(status)


def invalid_status(
    previous: dict[str, Any], reason: str, message: str, *, generation: int | None, now: str
) -> RayClusterStatus:
    """An invalid RayCluster's status: what is wrong, in `reason`; everything else as it was. KubeRay
    leaves the status alone and reports only an event, which a GitOps tool watching the status
    never sees."""
    status = copy.deepcopy(previous)
    status["reason"] = f"{reason}: {message}"[:REASON_LIMIT]
    status["observedGeneration"] = generation
    status["lastUpdateTime"] = now if _changed(previous, status) else previous.get("lastUpdateTime", now)
    return RayClusterStatus.model_validate(status)


def head_pod_ready(pod: dict[str, Any]) -> tuple[str, str, str]:
    """(status, reason, message) of the HeadPodReady condition, from the Pod's Ready condition as
    KubeRay's utils.FindHeadPodReadyCondition does: `Unknown` until the Pod has one; for
    ContainersNotReady, the first waiting or terminated container's reason and message instead."""
    status, reason, message = "False", "Unknown", ""
    for condition in pod.get("status", {}).get("conditions") or []:
        if condition.get("type") != "Ready":
            continue
        status, message = str(condition.get("status", "False")), str(condition.get("message", ""))
        found = str(condition.get("reason", ""))
        if status == "True" and not found:
            found = "HeadPodRunningAndReady"
        if found:
            reason = found
        if found == "ContainersNotReady":
            for container in pod.get("status", {}).get("containerStatuses") or []:
                state = container.get("state") or {}
                waiting_or_done = state.get("waiting") or state.get("terminated")
                if waiting_or_done is not None:
                    message = f"{message}; " if message else ""
                    message += f"{container.get('name')}: {waiting_or_done.get('message', '')}"
                    reason = str(waiting_or_done.get("reason", ""))
                    break
        break
    return status, reason, message


def status_changed(previous: dict[str, Any] | None, status: RayClusterStatus) -> bool:
    """Whether a field worth a status write changed (KubeRay's inconsistency check)."""
    return _changed(previous, status.to_dict())


def _changed(previous: dict[str, Any] | None, status: dict[str, Any]) -> bool:
    return any((previous or {}).get(key) != status.get(key) for key in _COMPARED)
