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
from raykopf.k8s.client import ApiError, KubeClient
from raykopf.k8s.dashboard import JobTracker
from raykopf.k8s.events import EventRecorder
from raykopf.k8s.informer import Informer
from raykopf.k8s.objects import item, path_of
from raykopf.k8s.services import take_over_service
from raykopf.k8s.store import LatestStore, current, set_finalizer
from raykopf.reconcile import rayjob as machine
from raykopf.validation import Gates, Problem

log = logging.getLogger("raykopf")
STOP_TIMEOUT = 5.0
Key = tuple[str, str]


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


@dataclass
class RayJobReconciler:
    client: KubeClient
    events: EventRecorder
    rayclusters: LatestStore
    pods: Informer
    services: Informer
    jobs: Informer
    tracker: JobTracker
    config: OperatorConfig
    bodies: LatestStore = field(default_factory=LatestStore)
    # (namespace, RayCluster) -> the RayJob that runs on it, so a cluster's change wakes its RayJob.
    on_cluster: dict[Key, Key] = field(default_factory=dict)
    invalid: InvalidReports = field(init=False)

    def __post_init__(self) -> None:
        self.invalid = InvalidReports(self.events, Gates.of(self.config))

    def rayjob_of(self, namespace: str, cluster: str) -> Key | None:
        return self.on_cluster.get((namespace, cluster))

    async def report_failure(self, key: Key, error: Exception) -> None:
        await report_failure(self.events, self.bodies, "RayJob", key, error, self._replace_status)

    async def clear_failure(self, key: Key) -> None:
        await clear_failure(self.bodies, "RayJob", key, self._replace_status)

    async def _replace_status(self, raw: dict[str, Any], status: dict[str, Any]) -> None:
        meta = raw["metadata"]
        self.bodies.put(
            await self.client.replace_status(item("RayJob", meta["namespace"], meta["name"]), status)
        )

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
        step = machine.plan_rayjob(job, raw, self._observe(key, raw, job), self.config)
        await self._execute(key, raw, step)
        return step.requeue_after

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

    async def _execute(self, key: Key, raw: dict[str, Any], step: machine.Step) -> None:
        namespace, name = key
        if step.add_finalizer:
            raw = await set_finalizer(
                self.bodies, self.client, "RayJob", raw, machine.FINALIZER, present=True
            )
        for body in step.create:
            await self._create(raw, body)
        for kind, child in step.delete:
            await self._delete(kind, namespace, child)
        cluster_name = step.status.get("rayClusterName")
        if step.update_service_selector is not None and cluster_name:
            patch = {
                "metadata": {"labels": {c.RAY_CLUSTER_LABEL: cluster_name}},
                "spec": {"selector": step.update_service_selector},
            }
            self.services.upsert(
                await self.client.merge_patch(item("Service", namespace, f"{name}-head-svc"), patch)
            )
        if step.suspend_workers and cluster_name:
            await self._suspend_workers(namespace, cluster_name)
        for event in step.events:
            self.events.record(raw, "RayJob", event.type, event.reason, event.message)
        if cluster_name:
            self.on_cluster[(namespace, cluster_name)] = key
        if step.track is not None and all(step.track):
            self.tracker.track(key, *step.track)
            if step.submit is not None:
                self.tracker.submit(key, step.track[0], step.submit)
        else:
            self.tracker.untrack(key)
        previous: dict[str, Any] = raw.get("status") or {}
        if previous != step.status:
            updated = await self.client.replace_status(item("RayJob", namespace, name), step.status)
            self.bodies.put(updated)
        if step.delete_self:
            await self._delete("RayJob", namespace, name)

    async def _create(self, owner: dict[str, Any], body: dict[str, Any]) -> None:
        kind, meta = body["kind"], body["metadata"]
        try:
            created = await self.client.create(path_of(body), body)
        except ApiError as error:
            if error.status == 409:
                if kind == "Service":
                    await take_over_service(self.client, self.services, body)
                    self.events.record(
                        owner, "RayJob", "Normal", "UpdatedService", f"Took over Service {meta['name']}"
                    )
                return
            reason = {"RayCluster": "FailedToCreateRayCluster", "Job": "FailedToCreateRayJobSubmitter"}.get(
                kind, "FailedToCreateService"
            )
            self.events.record(owner, "RayJob", "Warning", reason, f"{kind} {meta['name']}: {error}")
            raise
        if kind == "RayCluster":
            self.rayclusters.put(created)
        elif kind == "Job":
            self.jobs.upsert(created)
        elif kind == "Service":
            self.services.upsert(created)
            self.events.record(owner, "RayJob", "Normal", "CreatedService", f"Created Service {meta['name']}")

    async def _delete(self, kind: str, namespace: str, name: str) -> None:
        # batch Jobs orphan their Pods by default: delete those too.
        await self.client.delete(item(kind, namespace, name), body={"propagationPolicy": "Background"})

    async def _suspend_workers(self, namespace: str, cluster_name: str) -> None:
        """DeleteWorkers: set `suspend` on every worker group (the one spec KubeRay itself writes)."""
        cluster = self.rayclusters.get(namespace, cluster_name)
        if cluster is None:
            return
        groups = [{**g, "suspend": True} for g in (cluster.get("spec") or {}).get("workerGroupSpecs") or []]
        patch = {
            "metadata": {"resourceVersion": cluster["metadata"]["resourceVersion"]},
            "spec": {"workerGroupSpecs": groups},
        }
        self.rayclusters.put(
            await self.client.merge_patch(item("RayCluster", namespace, cluster_name), patch)
        )

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
        await set_finalizer(self.bodies, self.client, "RayJob", raw, machine.FINALIZER, present=False)

    async def _invalid(self, key: Key, raw: dict[str, Any], errors: list[Problem]) -> None:
        message = self.invalid.report(key, raw, "RayJob", errors)
        generation = raw["metadata"].get("generation")
        status = machine.validation_failed(raw, message, generation)
        updated = await self.client.merge_patch(
            f"{item('RayJob', key[0], key[1])}/status", {"status": status}
        )
        self.bodies.put(updated)

    def _forget(self, key: Key) -> None:
        self.tracker.untrack(key)
        self.invalid.forget(key)
        for cluster in [k for k, v in self.on_cluster.items() if v == key]:
            del self.on_cluster[cluster]
