"""The GCS fault-tolerance Redis cleanup finalizer (≙ the first step of KubeRay's rayClusterReconcile).

While the cluster lives, the finalizer is added before anything else is reconciled. Once it is
deleted: delete its Pods, wait for the head to be gone (the GCS must stop writing), run the cleanup
Job once, and remove the finalizer when the Job has finished, either way. A deletion older than the
timeout (300 s, or the `ray.io/gcs-ft-deletion-timeout` annotation) removes the finalizer at once,
with a Warning event, so that a missing Redis can never wedge a namespace deletion forever.
"""

from __future__ import annotations

import datetime
from typing import Any

from raykopf import constants as c
from raykopf.api import RayCluster
from raykopf.builders.pod import is_ft_enabled
from raykopf.config import OperatorConfig
from raykopf.reconcile import pods as podstate
from raykopf.reconcile.actions import Actions, Create, Delete, Event
from raykopf.reconcile.times import parse

WAIT_FOR_HEAD = 10.0
WAIT_FOR_JOB = 2.0


def has_finalizer(raw: dict[str, Any]) -> bool:
    return c.GCS_FT_REDIS_CLEANUP_FINALIZER in (raw["metadata"].get("finalizers") or [])


def applies(cluster: RayCluster, config: OperatorConfig) -> bool:
    return config.enable_gcs_ft_redis_cleanup and is_ft_enabled(cluster)


def _timeout(cluster: RayCluster) -> int:
    raw = (cluster.metadata.annotations or {}).get(c.GCS_FT_DELETION_TIMEOUT_ANNOTATION)
    try:
        return int(raw) if raw is not None and int(raw) > 0 else c.GCS_FT_DELETION_TIMEOUT_SECONDS
    except ValueError:
        return c.GCS_FT_DELETION_TIMEOUT_SECONDS


def _age(timestamp: str, now: datetime.datetime) -> float:
    started = parse(timestamp)
    return 0.0 if started is None else (now - started).total_seconds()


def job_finished(job: dict[str, Any]) -> str | None:
    """ "Complete" or "Failed" once the Job has that condition."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return str(condition["type"])
    return None


def plan_finalizer(
    cluster: RayCluster,
    raw: dict[str, Any],
    pods: tuple[dict[str, Any], ...],
    job: dict[str, Any] | None,
    cleanup_job: dict[str, Any],
    *,
    now: datetime.datetime,
) -> Actions:
    """What a deleted RayCluster's finalizer needs next; `cleanup_job`: the Job to create once the head
    is gone. (The finalizer itself is added by the controller before any Pod, when `applies`.)"""
    deleted_at = raw["metadata"].get("deletionTimestamp")
    if not deleted_at or not has_finalizer(raw):
        return Actions()
    namespace = cluster.metadata.namespace or "default"
    if _age(deleted_at, now) > _timeout(cluster):
        return Actions(
            remove_finalizer=c.GCS_FT_REDIS_CLEANUP_FINALIZER,
            events=[
                Event(
                    "Warning",
                    "ForceDeletedStuckCluster",
                    f"The Redis cleanup did not finish within {_timeout(cluster)} s of the deletion; "
                    f"removed the finalizer {c.GCS_FT_REDIS_CLEANUP_FINALIZER}. Delete the storage "
                    "namespace in Redis by hand if it is still there.",
                )
            ],
        )
    ray_pods = [p for p in pods if podstate.node_type(p) in (c.HEAD_NODE, c.WORKER_NODE)]
    live = [p for p in ray_pods if not podstate.is_terminating(p)]
    step = Actions(
        deletes=[
            Delete(
                "Pod",
                namespace,
                podstate.name(p),
                "DeletedHeadPod" if podstate.node_type(p) == c.HEAD_NODE else "DeletedWorkerPod",
            )
            for p in live
        ]
    )
    if any(podstate.node_type(p) == c.HEAD_NODE for p in ray_pods):
        step.requeue_after = WAIT_FOR_HEAD  # the GCS may still be writing to Redis
        return step
    if job is None:
        step.creates.append(Create(cleanup_job, "CreatedRedisCleanupJob"))
        step.requeue_after = WAIT_FOR_JOB
        return step
    finished = job_finished(job)
    if finished is None:
        step.requeue_after = WAIT_FOR_JOB
        return step
    step.remove_finalizer = c.GCS_FT_REDIS_CLEANUP_FINALIZER
    if finished == "Failed":
        step.events.append(
            Event(
                "Warning",
                "RedisCleanupJobFailed",
                f"The Redis cleanup Job {job['metadata']['name']} failed; delete the storage namespace in Redis by hand.",
            )
        )
    return step
