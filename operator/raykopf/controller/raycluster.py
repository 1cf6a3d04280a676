"""reconcile_one for a RayCluster: get -> validate -> observe -> plan -> execute -> status."""

from __future__ import annotations

import base64
import datetime
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from raykopf import constants as c
from raykopf import naming
from raykopf.api import RayCluster
from raykopf.api.raycluster import RayClusterStatus
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
from raykopf.k8s.client import KubeClient
from raykopf.k8s.executor import Executor
from raykopf.k8s.informer import Informer
from raykopf.k8s.objects import item
from raykopf.k8s.store import LatestStore, current
from raykopf.reconcile import gcs_ft
from raykopf.reconcile.actions import KEEP, MIN_REQUEUE_SECONDS, MUST_BE_OURS, Create, RetryLater
from raykopf.reconcile.raycluster import Observed, plan_pods
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
    executor: Executor
    pods: Informer
    services: Informer
    config: OperatorConfig
    bodies: LatestStore
    """The latest RayCluster bodies (from kopf's events and the operator's own writes)."""
    status_written: dict[tuple[str, str], float] = field(default_factory=dict)
    invalid: InvalidReports = field(init=False)

    def __post_init__(self) -> None:
        self.invalid = InvalidReports(self.executor.events, Gates.of(self.config))

    async def report_failure(self, key: tuple[str, str], error: Exception) -> None:
        await report_failure(self.executor, self.bodies, "RayCluster", key, error)

    async def clear_failure(self, key: tuple[str, str]) -> None:
        await clear_failure(self.executor, self.bodies, "RayCluster", key)

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
                await self._write_status(key, raw, status)
            return None
        cluster = RayCluster.model_validate(raw)
        if gcs_ft.applies(cluster, self.config) and not gcs_ft.has_finalizer(raw):
            # Pods come only after the finalizer is stored, so Redis can always be cleaned up.
            await self.executor.set_finalizer(
                "RayCluster", raw, c.GCS_FT_REDIS_CLEANUP_FINALIZER, present=True
            )
            return gcs_ft.WAIT_FOR_JOB
        await self.executor.settle_unsure(namespace, name)
        observed = self._observe(cluster)
        actions = plan_pods(cluster, observed, self.config)
        actions.creates[:0] = self._children(cluster, raw)
        outcome = await self.executor.run("RayCluster", raw, actions, write_status=False)
        if outcome.owner is None:
            self._forget(key)
            return None
        raw, failure = outcome.owner, outcome.failure
        if actions.creates or actions.deletes:
            observed = self._observe(cluster)
        status = next_status(cluster, observed, now=_now(), failure=failure)
        previous = raw.get("status") or {}
        if failure is not None:
            # Said on the status (and in an Event by the executor); retried with the key's back-off,
            # not every pass: a create refused for good (quota, 422) must not spend the API budget.
            if status_changed(previous, status) and not await self._write_status(key, raw, status):
                return None
            raise RetryLater(str(failure), after=failure.retry_after)
        if any(create.body["kind"] == "Pod" for create in actions.creates):
            # Pods just created are seconds from ready: the "provisioning" status would be out of
            # date at once, so it waits one interval and usually goes out together with "ready".
            self.status_written[key] = time.monotonic()
        if actions.truncated:
            return MIN_REQUEUE_SECONDS  # more Pods to create: the status can wait for the last of them
        if status_changed(previous, status):
            # Pods of one cluster get ready within moments of each other: one write, not one per Pod.
            wait = self.status_written.get(key, -STATUS_INTERVAL) + STATUS_INTERVAL - time.monotonic()
            if wait > 0:
                return wait
            if not await self._write_status(key, raw, status):
                return None
            self.status_written[key] = time.monotonic()
            return SHORT_REQUEUE
        return SHORT_REQUEUE if actions.creates or actions.deletes else None

    def _observe(self, cluster: RayCluster) -> Observed:
        namespace, name = cluster.metadata.namespace or "", cluster.metadata.name or ""
        return Observed(
            pods=self.pods.owned(namespace, name),
            head_service=self.services.get(namespace, head_service_name(cluster)),
        )

    async def _write_status(
        self, key: tuple[str, str], raw: dict[str, Any], status: RayClusterStatus
    ) -> bool:
        """Whether the status was written (False: the RayCluster is gone)."""
        if await self.executor.write_status("RayCluster", raw, status) is None:
            self._forget(key)  # deleted meanwhile (e.g. by its RayJob or RayService)
            return False
        return True

    def _forget(self, key: tuple[str, str]) -> None:
        self.invalid.forget(key)
        self.status_written.pop(key, None)
        self.executor.unsure.discard(key)

    async def _redis_cleanup(self, raw: dict[str, Any]) -> float | None:
        namespace, name = raw["metadata"]["namespace"], raw["metadata"]["name"]
        try:
            cluster = RayCluster.model_validate(raw)
        except ValueError as error:  # nothing to build a cleanup Job from: never wedge the deletion
            self.executor.events.record(
                raw, "RayCluster", "Warning", "ForceDeletedStuckCluster", f"invalid spec: {error}"
            )
            await self.executor.set_finalizer(
                "RayCluster", raw, c.GCS_FT_REDIS_CLEANUP_FINALIZER, present=False
            )
            return None
        job = await self.client.get(item("Job", namespace, naming.redis_cleanup_job(name)))
        cleanup = _owned(build_redis_cleanup_job(cluster, self.config), raw)
        actions = gcs_ft.plan_finalizer(
            cluster, raw, self.pods.owned(namespace, name), job, cleanup, now=_utcnow()
        )
        outcome = await self.executor.run("RayCluster", raw, actions)
        failure = outcome.failure
        if failure is not None and getattr(failure.error, "namespace_terminating", False):
            # The cleanup Job can never be made: waiting out the timeout would only hold the
            # namespace's deletion (e.g. after the operator was down while it was deleted).
            self.executor.events.record(
                raw,
                "RayCluster",
                "Warning",
                "ForceDeletedStuckCluster",
                f"The namespace is being deleted, so the Redis cleanup Job cannot run; removed the finalizer "
                f"{c.GCS_FT_REDIS_CLEANUP_FINALIZER}. Delete the storage namespace in Redis by hand.",
            )
            await self.executor.set_finalizer(
                "RayCluster", raw, c.GCS_FT_REDIS_CLEANUP_FINALIZER, present=False
            )
            return None
        if failure is not None:
            raise RetryLater(str(failure), after=failure.retry_after)
        return actions.requeue_after

    def _children(self, cluster: RayCluster, raw: dict[str, Any]) -> list[Create]:
        """The RayCluster's other children, made once and never updated, one by one before its Pods and
        in KubeRay's order (the autoscaler's ServiceAccount, Role and RoleBinding, the Ingress, the
        Services): a head Pod that runs as the ServiceAccount needs it first (the apiserver refuses
        it otherwise), and a head Pod the apiserver refuses does not hold the Services back."""
        creates = []
        if cluster.spec.enable_in_tree_autoscaling:
            for body, reason in (
                (build_service_account(cluster), "CreatedServiceAccount"),
                (build_role(cluster), "CreatedRole"),
                (build_role_binding(cluster), "CreatedRoleBinding"),
            ):
                ours = MUST_BE_OURS if body["kind"] != "ServiceAccount" else KEEP
                creates.append(Create(_owned(body, raw), reason, if_exists=ours, look_first=True, first=True))
        if needs_auth_secret(cluster):
            token = base64.b64encode(secrets.token_bytes(32)).decode()
            secret = _owned(build_auth_secret(cluster, token), raw)
            # No Event, as KubeRay posts none for it.
            creates.append(Create(secret, "CreatedSecret", silent=True, look_first=True, first=True))
        if cluster.spec.head_group_spec.enable_ingress:
            ingress = _owned(build_head_ingress(cluster), raw)
            creates.append(Create(ingress, "CreatedIngress", look_first=True, first=True))
        services = [build_head_service(cluster, self.config)]
        if any(g.num_of_hosts > 1 for g in cluster.spec.worker_group_specs or []):
            services.append(build_headless_worker_service(cluster))
        if (cluster.metadata.annotations or {}).get("ray.io/enable-serve-service") == "true":
            serve = build_serve_service(cluster)
            if serve is not None:
                services.append(serve)
        for service in services:
            meta = service["metadata"]
            cached = self.services.covers(service)
            if cached and self.services.get(meta["namespace"], meta["name"]) is not None:
                continue
            creates.append(Create(_owned(service, raw), "CreatedService", look_first=not cached, first=True))
        return creates
