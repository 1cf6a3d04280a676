"""The GCS FT Redis cleanup finalizer, step by step (≙ KubeRay's Test_RedisCleanup table)."""

from __future__ import annotations

import datetime
from typing import Any

from raykopf.api import RayCluster
from raykopf.builders.redis_cleanup import build_redis_cleanup_job
from raykopf.config import OperatorConfig
from raykopf.reconcile.actions import Actions
from raykopf.reconcile.gcs_ft import applies, plan_finalizer

FINALIZER = "ray.io/gcs-ft-redis-cleanup-finalizer"
NOW = datetime.datetime(2026, 11, 25, 12, 0, 0, tzinfo=datetime.UTC)


def raw(
    *, finalizer: bool = True, deleted_seconds_ago: int | None = None, **annotations: str
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": "ft",
        "namespace": "ns",
        "uid": "u-1",
        "annotations": {"ray.io/ft-enabled": "true", **annotations},
    }
    if finalizer:
        meta["finalizers"] = ["example.com/keep", FINALIZER]
    if deleted_seconds_ago is not None:
        stamp = NOW - datetime.timedelta(seconds=deleted_seconds_ago)
        meta["deletionTimestamp"] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    container = {
        "name": "ray-head",
        "image": "ray",
        "env": [{"name": "RAY_REDIS_ADDRESS", "value": "redis:6379"}],
    }
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": meta,
        "spec": {"headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [container]}}}},
    }


def pod(node_type: str, name: str, *, terminating: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"ray.io/node-type": node_type}}
    if terminating:
        meta["deletionTimestamp"] = "2026-11-25T11:59:59Z"
    return {"metadata": meta, "spec": {}, "status": {"phase": "Running"}}


CLEANUP_JOB = {"kind": "Job", "metadata": {"name": "ft-redis-cleanup", "namespace": "ns"}}


def step(
    body: dict[str, Any], pods: tuple[dict[str, Any], ...] = (), job: dict[str, Any] | None = None
) -> Any:
    return plan_finalizer(RayCluster.model_validate(body), body, pods, job, CLEANUP_JOB, now=NOW)


def test_the_finalizer_is_added_only_with_gcs_ft_and_nothing_is_done_before_a_deletion() -> None:
    assert applies(RayCluster.model_validate(raw()), OperatorConfig())
    assert step(raw()) == Actions()
    plain = raw()
    plain["metadata"]["annotations"] = {}
    assert not applies(RayCluster.model_validate(plain), OperatorConfig())
    assert not applies(RayCluster.model_validate(raw()), OperatorConfig(enable_gcs_ft_redis_cleanup=False))


def test_on_deletion_pods_go_first_and_the_job_waits_for_the_head_to_be_gone() -> None:
    deleting = raw(deleted_seconds_ago=5)
    first = step(deleting, (pod("head", "h"), pod("worker", "w")))
    assert sorted((d.name, d.reason) for d in first.deletes) == [
        ("h", "DeletedHeadPod"),
        ("w", "DeletedWorkerPod"),
    ]
    assert (first.creates, first.remove_finalizer, first.requeue_after) == ([], None, 10.0)
    waiting = step(deleting, (pod("head", "h", terminating=True),))
    assert (waiting.deletes, waiting.creates, waiting.requeue_after) == ([], [], 10.0)
    assert [c.body for c in step(deleting).creates] == [CLEANUP_JOB]


def test_the_finalizer_is_removed_once_the_job_finished_either_way() -> None:
    deleting = raw(deleted_seconds_ago=5)
    job = {"metadata": {"name": "ft-redis-cleanup"}, "status": {}}
    assert not step(deleting, job=job).remove_finalizer
    job["status"] = {"conditions": [{"type": "Complete", "status": "True"}]}
    done = step(deleting, job=job)
    assert (done.remove_finalizer, done.events) == (FINALIZER, [])
    job["status"] = {"conditions": [{"type": "Failed", "status": "True"}]}
    failed = step(deleting, job=job)
    assert failed.remove_finalizer
    assert failed.events[0].type == "Warning"


def test_a_stuck_deletion_is_forced_after_the_timeout_with_a_warning() -> None:
    stuck = step(raw(deleted_seconds_ago=301), (pod("head", "h", terminating=True),))
    assert stuck.remove_finalizer
    assert stuck.events[0].reason == "ForceDeletedStuckCluster"
    patient = step(
        raw(deleted_seconds_ago=301, **{"ray.io/gcs-ft-deletion-timeout": "600"}), (pod("head", "h"),)
    )
    assert not patient.remove_finalizer


def test_the_cleanup_job_is_the_head_pod_running_rays_own_cleanup() -> None:
    job = build_redis_cleanup_job(RayCluster.model_validate(raw()), OperatorConfig())
    assert job["metadata"]["name"] == "ft-redis-cleanup"
    assert job["metadata"]["labels"]["ray.io/node-type"] == "redis-cleanup"
    assert (job["spec"]["backoffLimit"], job["spec"]["activeDeadlineSeconds"]) == (0, 300)
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    (container,) = spec["containers"]
    # KubeRay's buildRedisCleanupJob: GetContainerCommand, no login shell unless ENABLE_LOGIN_SHELL.
    assert container["command"] == ["/bin/bash", "-c", "--"]
    login = build_redis_cleanup_job(RayCluster.model_validate(raw()), OperatorConfig(enable_login_shell=True))
    assert login["spec"]["template"]["spec"]["containers"][0]["command"] == ["/bin/bash", "-cl", "--"]
    assert "from ray._private.gcs_utils import cleanup_redis_storage" in container["args"][0]
    assert "username=" not in container["args"][0]
    assert "livenessProbe" not in container
    assert "readinessProbe" not in container
    assert container["resources"] == {
        "limits": {"cpu": "200m", "memory": "256Mi"},
        "requests": {"cpu": "200m", "memory": "256Mi"},
    }
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["RAY_redis_db_connect_retries"] == "120"
    assert env["RAY_external_storage_namespace"] == "u-1"
