"""reconcile_one for a RayJob: get -> validate -> observe (caches and the dashboard poller) -> plan ->
execute -> status. Nothing here waits on a Ray dashboard except the best-effort stop on deletion."""

from __future__ import annotations

import asyncio
import datetime
import logging
from dataclasses import dataclass, field
from typing import Any

from raykopf import constants as c
from raykopf.api.rayjob import RayJob
from raykopf.config import OperatorConfig
from raykopf.controller.failures import clear_failure, report_failure
from raykopf.controller.invalid import InvalidReports
from raykopf.k8s.client import KubeClient
from raykopf.k8s.dashboard import JobTracker
from raykopf.k8s.executor import Executor
from raykopf.k8s.informer import Informer
from raykopf.k8s.store import LatestStore, current
from raykopf.reconcile import rayjob as machine
from raykopf.reconcile.actions import Actions
from raykopf.validation import Gates, Problem

log = logging.getLogger("raykopf")
STOP_TIMEOUT = 5.0
Key = tuple[str, str]


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


@dataclass
class RayJobReconciler:
    client: KubeClient
    executor: Executor
    rayclusters: LatestStore
    pods: Informer
    services: Informer
    jobs: Informer
    tracker: JobTracker
    config: OperatorConfig
    bodies: LatestStore
    # (namespace, RayCluster) -> the RayJob that runs on it, so a cluster's change wakes its RayJob.
    on_cluster: dict[Key, Key] = field(default_factory=dict)
    invalid: InvalidReports = field(init=False)

    def __post_init__(self) -> None:
        self.invalid = InvalidReports(self.executor.events, Gates.of(self.config))

    def rayjob_of(self, namespace: str, cluster: str) -> Key | None:
        return self.on_cluster.get((namespace, cluster))

    async def report_failure(self, key: Key, error: Exception) -> None:
        await report_failure(self.executor, self.bodies, "RayJob", key, error)

    async def clear_failure(self, key: Key) -> None:
        await clear_failure(self.executor, self.bodies, "RayJob", key)

    async def reconcile(self, key: Key) -> float | None:
        namespace, name = key
        max_age = float(self.config.raycluster_default_requeue_seconds)
        raw = await current(self.bodies, self.client, "RayJob", namespace, name, max_age)
        if raw is None:
            self._forget(key)
            return None
        if (raw.get("spec") or {}).get("managedBy") not in (None, c.KUBERAY_MANAGED_BY):
            return None
        if raw["metadata"].get("deletionTimestamp"):
            await self._finalize(key, raw)
            return None
        status = raw.get("status") or {}
        if status.get("jobDeploymentStatus") == machine.VALIDATION_FAILED:
            return None  # terminal: a new spec is a new RayJob
        errors = self.invalid.errors(key, raw)
        if errors:
            await self._invalid(key, raw, errors)
            return None
        job = RayJob.model_validate(raw)
        actions = machine.plan_rayjob(job, raw, self._observe(key, raw, job), self.config)
        await self._execute(key, raw, actions)
        return actions.requeue_after

    def _observe(self, key: Key, raw: dict[str, Any], job: RayJob) -> machine.World:
        namespace, name = key
        status = raw.get("status") or {}
        selector = (job.spec.cluster_selector or {}).get(c.RAYJOB_CLUSTER_SELECTOR_KEY)
        cluster_name = status.get("rayClusterName") or selector
        cluster = self.rayclusters.get(namespace, cluster_name) if cluster_name else None
        address, job_id = status.get("dashboardURL") or "", status.get("jobId") or ""
        return machine.World(
            now=_utcnow(),
            cluster=cluster,
            cluster_pods=list(self.pods.owned(namespace, cluster_name)) if cluster_name else [],
            submitter=self.jobs.get(namespace, name),
            job_service=self.services.get(namespace, f"{name}-head-svc"),
            probe=self.tracker.probe(key, address, job_id) if address and job_id else None,
        )

    async def _execute(self, key: Key, raw: dict[str, Any], actions: Actions) -> None:
        namespace, _ = key
        cluster_name = getattr(actions.status, "ray_cluster_name", None)
        if cluster_name:
            self.on_cluster[(namespace, cluster_name)] = key
        outcome = await self.executor.run("RayJob", raw, actions)
        if outcome.failure is not None:
            raise outcome.failure.error
        if outcome.owner is None:
            self._forget(key)
            return
        poll = machine.poll_of(actions)
        if poll is None:
            self.tracker.untrack(key)
            return
        self.tracker.track(key, poll.address, poll.job_id)
        if poll.submit is not None:
            self.tracker.submit(key, poll.address, poll.submit)

    async def _finalize(self, key: Key, raw: dict[str, Any]) -> None:
        """Stop a Ray job that is still running, then let garbage collection take the children."""
        self.tracker.untrack(key)
        if not machine.has_finalizer(raw):
            return
        status = raw.get("status") or {}
        address, job_id = status.get("dashboardURL"), status.get("jobId")
        if address and job_id and status.get("jobStatus") not in machine.RAY_TERMINAL:
            try:
                await asyncio.wait_for(self.tracker.stop_job(address, job_id), STOP_TIMEOUT)
                log.info("stopped Ray job", extra={"object": f"{key[0]}/{key[1]}", "job": job_id})
            except TimeoutError:
                log.warning("could not stop Ray job", extra={"object": f"{key[0]}/{key[1]}", "job": job_id})
        await self.executor.set_finalizer("RayJob", raw, machine.FINALIZER, present=False)

    async def _invalid(self, key: Key, raw: dict[str, Any], errors: list[Problem]) -> None:
        message = self.invalid.report(key, raw, "RayJob", errors)
        generation = raw["metadata"].get("generation")
        await self.executor.write_status("RayJob", raw, machine.validation_failed(raw, message, generation))

    def _forget(self, key: Key) -> None:
        self.tracker.untrack(key)
        self.invalid.forget(key)
        for cluster in [k for k, v in self.on_cluster.items() if v == key]:
            del self.on_cluster[cluster]
