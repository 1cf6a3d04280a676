"""reconcile_one for a RayCluster: get -> validate -> observe -> plan -> execute -> status."""

from __future__ import annotations

import asyncio
import base64
import datetime
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from raykopf import constants as c
from raykopf import naming
from raykopf.api import RayCluster
from raykopf.builders.auth import build_auth_secret, needs_auth_secret
from raykopf.builders.ingress import build_head_ingress
from raykopf.builders.labels import owned_by
from raykopf.builders.rbac import build_role, build_role_binding, build_service_account
from raykopf.builders.redis_cleanup import build_redis_cleanup_job
from raykopf.builders.service import (
    build_head_service,
    build_headless_worker_service,
    build_serve_service,
    head_service_name,
)
from raykopf.config import OperatorConfig
from raykopf.controller.failures import clear_failure, report_failure
from raykopf.controller.invalid import InvalidReports, invalid_reason
from raykopf.controller.workqueue import RetryLater
from raykopf.k8s.client import ApiError, KubeClient
from raykopf.k8s.objects import item, merge_patch
from raykopf.k8s.raycluster import ClusterIO, Failure
from raykopf.k8s.store import LatestStore, current, set_finalizer
from raykopf.reconcile import gcs_ft
from raykopf.reconcile.plan import MIN_REQUEUE_SECONDS, Plan
from raykopf.reconcile.raycluster import plan_pods
from raykopf.reconcile.status import invalid_status, next_status, status_changed
from raykopf.validation import Gates

# Re-check soon while something is in flight; otherwise rely on Pod events and the periodic resync.
SHORT_REQUEUE = 2.0
# At most one status write per cluster per interval; later changes are written when it has passed.
STATUS_INTERVAL = 2.0


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _now() -> str:
    return _utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")


def _owned(body: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    return owned_by(body, name=raw["metadata"]["name"], uid=raw["metadata"]["uid"])


@dataclass
class RayClusterReconciler:
    client: KubeClient
    io: ClusterIO
    config: OperatorConfig
    # The latest RayCluster bodies (from kopf's events and our own status writes).
    bodies: LatestStore = field(default_factory=LatestStore)
    status_written: dict[tuple[str, str], float] = field(default_factory=dict)
    invalid: InvalidReports = field(init=False)

    def __post_init__(self) -> None:
        self.invalid = InvalidReports(self.io.events, Gates.of(self.config))

    async def report_failure(self, key: tuple[str, str], error: Exception) -> None:
        await report_failure(self.io.events, self.bodies, "RayCluster", key, error, self._replace_status)

    async def clear_failure(self, key: tuple[str, str]) -> None:
        await clear_failure(self.bodies, "RayCluster", key, self._replace_status)

    async def _replace_status(self, raw: dict[str, Any], status: dict[str, Any]) -> None:
        meta = raw["metadata"]
        await self._write_status((meta["namespace"], meta["name"]), raw.get("status") or {}, status)

    async def reconcile(self, key: tuple[str, str]) -> float | None:
        namespace, name = key
        max_age = float(self.config.raycluster_default_requeue_seconds)
        raw = await current(self.bodies, self.client, "RayCluster", namespace, name, max_age)
        managed_by = ((raw or {}).get("spec") or {}).get("managedBy")
        if raw is None:
            self._forget(key)
            return None
        if managed_by not in (None, c.KUBERAY_MANAGED_BY):
            return None
        if raw["metadata"].get("deletionTimestamp"):
            self._forget(key)
            if gcs_ft.has_finalizer(raw):
                return await self._redis_cleanup(raw)
            return None
        errors = self.invalid.errors(key, raw)
        if errors:
            message = self.invalid.report(key, raw, "RayCluster", errors)
            previous = raw.get("status") or {}
            reason = invalid_reason("RayCluster", errors)
            status = invalid_status(
                previous, reason, message, generation=raw["metadata"].get("generation"), now=_now()
            )
            if status_changed(previous, status):
                await self._write_status(key, previous, status)
            return None
        cluster = RayCluster.model_validate(raw)
        if gcs_ft.applies(cluster, self.config) and not gcs_ft.has_finalizer(raw):
            # Pods come only after the finalizer is stored, so Redis can always be cleaned up.
            await self._set_finalizer(raw, present=True)
            return gcs_ft.WAIT_FOR_JOB
        if cluster.spec.enable_in_tree_autoscaling:
            # The head Pod runs as the autoscaler's ServiceAccount: it must exist first (the
            # apiserver refuses a Pod whose ServiceAccount does not), as in KubeRay's order.
            await self._ensure_autoscaler_rbac(cluster, raw)
        await self.io.settle_unsure(namespace, name)
        observed = self.io.observe(namespace, name, head_service_name(cluster))
        plan = plan_pods(cluster, observed, self.config)
        # Services and Pods do not depend on each other (workers wait for the GCS, not the Service):
        # both go out at once. The Pods' outcome is recorded even when a Service fails.
        children, outcome = await asyncio.gather(
            self._ensure_children(cluster, raw), self.io.execute(raw, plan), return_exceptions=True
        )
        for result in (outcome, children):
            if isinstance(result, BaseException):
                raise result
        failure = outcome if isinstance(outcome, Failure) else None
        if plan.creates or plan.deletes:
            observed = self.io.observe(namespace, name, head_service_name(cluster))
        status = next_status(cluster, observed, now=_now(), reconcile_error=failure.text if failure else None)
        previous = raw.get("status") or {}
        if failure is not None:
            # Said on the status (and in an Event by the executor); retried with the key's back-off,
            # not every pass: a create refused for good (quota, 422) must not spend the API budget.
            if status_changed(previous, status) and not await self._write_status(key, previous, status):
                return None
            raise RetryLater(failure.text, after=failure.retry_after)
        if plan.creates:
            # Pods just created are seconds from ready: the "provisioning" status would be out of
            # date at once, so it waits one interval and usually goes out together with "ready".
            self.status_written[key] = time.monotonic()
        if plan.truncated:
            return MIN_REQUEUE_SECONDS  # more Pods to create: the status can wait for the last of them
        if status_changed(previous, status):
            # Pods of one cluster get ready within moments of each other: one write, not one per Pod.
            wait = self.status_written.get(key, -STATUS_INTERVAL) + STATUS_INTERVAL - time.monotonic()
            if wait > 0:
                return wait
            if not await self._write_status(key, previous, status):
                return None
            self.status_written[key] = time.monotonic()
            return SHORT_REQUEUE
        return SHORT_REQUEUE if plan.creates or plan.deletes else None

    async def _write_status(
        self, key: tuple[str, str], previous: dict[str, Any], status: dict[str, Any]
    ) -> bool:
        """Whether the status was written (False: the RayCluster is gone)."""
        patch = merge_patch(previous, status)
        try:
            self.bodies.put(await self.io.write_status(key[0], key[1], patch))
        except ApiError as error:
            if error.status != 404:
                raise
            self.bodies.pop(*key)  # deleted meanwhile (e.g. by its RayJob or RayService)
            self._forget(key)
            return False
        return True

    def _forget(self, key: tuple[str, str]) -> None:
        self.invalid.forget(key)
        self.status_written.pop(key, None)
        self.io.unsure.discard(key)

    async def _redis_cleanup(self, raw: dict[str, Any]) -> float | None:
        namespace, name = raw["metadata"]["namespace"], raw["metadata"]["name"]
        try:
            cluster = RayCluster.model_validate(raw)
        except ValueError as error:  # nothing to build a cleanup Job from: never wedge the deletion
            self.io.events.record(
                raw, "RayCluster", "Warning", "ForceDeletedStuckCluster", f"invalid spec: {error}"
            )
            await self._set_finalizer(raw, present=False)
            return None
        job_name = naming.redis_cleanup_job(name)
        job = await self.client.get(item("Job", namespace, job_name))
        step = gcs_ft.plan_finalizer(cluster, raw, self.io.pods.owned(namespace, name), job, now=_utcnow())
        plan = Plan(deletes=step.deletes, events=step.events)
        await self.io.execute(raw, plan)
        if step.create_job:
            await self.io.create_job(raw, _owned(build_redis_cleanup_job(cluster, self.config), raw))
        if step.remove_finalizer:
            await self._set_finalizer(raw, present=False)
        return step.requeue_after

    async def _set_finalizer(self, raw: dict[str, Any], *, present: bool) -> None:
        await set_finalizer(
            self.bodies, self.client, "RayCluster", raw, c.GCS_FT_REDIS_CLEANUP_FINALIZER, present=present
        )

    async def _ensure_autoscaler_rbac(self, cluster: RayCluster, raw: dict[str, Any]) -> None:
        await self.io.ensure(raw, _owned(build_service_account(cluster), raw), "CreatedServiceAccount")
        await self.io.ensure(raw, _owned(build_role(cluster), raw), "CreatedRole")
        await self.io.ensure(raw, _owned(build_role_binding(cluster), raw), "CreatedRoleBinding")

    async def _ensure_children(self, cluster: RayCluster, raw: dict[str, Any]) -> None:
        if needs_auth_secret(cluster):
            token = base64.b64encode(secrets.token_bytes(32)).decode()
            await self.io.ensure(raw, _owned(build_auth_secret(cluster, token), raw), None)
        if cluster.spec.head_group_spec.enable_ingress:
            await self.io.ensure(raw, _owned(build_head_ingress(cluster), raw), "CreatedIngress")
        await self.io.ensure(raw, _owned(build_head_service(cluster, self.config), raw), "CreatedService")
        if any(g.num_of_hosts > 1 for g in cluster.spec.worker_group_specs or []):
            await self.io.ensure(raw, _owned(build_headless_worker_service(cluster), raw), "CreatedService")
        if (cluster.metadata.annotations or {}).get("ray.io/enable-serve-service") == "true":
            serve = build_serve_service(cluster)
            if serve is not None:
                await self.io.ensure(raw, _owned(serve, raw), "CreatedService")
