"""reconcile_one for a RayService: get -> validate -> observe (caches, the Serve poller) -> plan ->
execute -> status. Serve is only ever asked in the background."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from raykopf import constants as c
from raykopf.api import RayCluster
from raykopf.api.rayservice import RayService
from raykopf.builders import rayservice as build
from raykopf.builders.service import dashboard_url
from raykopf.config import OperatorConfig
from raykopf.controller.failures import clear_failure, report_failure
from raykopf.controller.invalid import InvalidReports
from raykopf.k8s.client import ApiError, KubeClient
from raykopf.k8s.events import EventRecorder
from raykopf.k8s.informer import Informer
from raykopf.k8s.objects import item, path_of
from raykopf.k8s.serve import ServeTracker, Target
from raykopf.k8s.services import take_over_service
from raykopf.k8s.store import LatestStore, current, set_finalizer
from raykopf.reconcile import pods as podstate
from raykopf.reconcile import rayservice as planner
from raykopf.validation import Gates

Key = tuple[str, str]
DEFAULT_SERVE_PORT = 8000


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


@dataclass
class RayServiceReconciler:
    client: KubeClient
    events: EventRecorder
    rayclusters: LatestStore
    pods: Informer
    services: Informer
    tracker: ServeTracker
    config: OperatorConfig
    bodies: LatestStore = field(default_factory=LatestStore)
    deletion_due: dict[Key, dict[str, datetime.datetime]] = field(default_factory=dict)
    labelled_at: dict[tuple[str, str], datetime.datetime] = field(default_factory=dict)
    """(namespace, Pod) -> when this process labelled the Pod `ray.io/serve=true`."""
    invalid: InvalidReports = field(init=False)

    def __post_init__(self) -> None:
        self.invalid = InvalidReports(self.events, Gates.of(self.config))

    def rejected(self, key: Key, cluster: str, message: str) -> None:
        """Ray refused the Serve config: say so on the RayService, with Ray's message."""
        raw = self.bodies.get(*key)
        if raw is not None:
            note = f"{cluster}: {message}"[:1024]
            self.events.record(raw, "RayService", "Warning", "FailedToUpdateServeApplications", note)

    def owner_of(self, namespace: str, cluster: str) -> Key | None:
        """The RayService a RayCluster belongs to, from the cluster's labels."""
        labels = ((self.rayclusters.get(namespace, cluster) or {}).get("metadata") or {}).get("labels") or {}
        if labels.get(c.RAY_ORIGINATED_FROM_CRD_LABEL) != "RayService":
            return None
        owner = labels.get(c.RAY_ORIGINATED_FROM_CR_NAME_LABEL)
        return (namespace, owner) if owner else None

    async def report_failure(self, key: Key, error: Exception) -> None:
        await report_failure(self.events, self.bodies, "RayService", key, error, self._write_status)

    async def clear_failure(self, key: Key) -> None:
        await clear_failure(self.bodies, "RayService", key, self._write_status)

    async def reconcile(self, key: Key) -> float | None:
        namespace, name = key
        max_age = float(self.config.raycluster_default_requeue_seconds)
        raw = await current(self.bodies, self.client, "RayService", namespace, name, max_age)
        if raw is None:
            self._forget(key)
            return None
        if (raw.get("spec") or {}).get("managedBy") not in (None, c.KUBERAY_MANAGED_BY):
            return None
        world = await self._observe(key)
        if raw["metadata"].get("deletionTimestamp"):
            if not planner.has_finalizer(raw):
                return None
            step = planner.plan_deletion(world)
            await self._delete_clusters(raw, step)
            if step.remove_finalizer:
                self._forget(key)
                await set_finalizer(
                    self.bodies, self.client, "RayService", raw, planner.FINALIZER, present=False
                )
            return step.requeue_after
        errors = self.invalid.errors(key, raw)
        if errors:
            message = self.invalid.report(key, raw, "RayService", errors)
            await self._write_status(raw, planner.validation_failed(raw, message, _utcnow()))
            return None
        svc = RayService.model_validate(raw)
        step = planner.plan_rayservice(svc, raw, world, self.config)
        await self._execute(key, raw, svc, step)
        return step.requeue_after

    async def _observe(self, key: Key) -> planner.ServiceWorld:
        namespace, name = key
        clusters = {}
        for cluster in self.rayclusters.names_in(namespace):
            body = self.rayclusters.get(namespace, cluster)
            if body is not None and self.owner_of(namespace, cluster) == key:
                clusters[cluster] = body
        heads = {}
        for cluster in clusters:
            head = next(
                (p for p in self.pods.owned(namespace, cluster) if podstate.node_type(p) == c.HEAD_NODE), None
            )
            if head is not None:
                heads[cluster] = head
        now = _utcnow()
        # A label older than the settle time no longer matters: forget it.
        self.labelled_at = {
            k: t for k, t in self.labelled_at.items() if (now - t).total_seconds() < planner.SETTLE_SECONDS
        }
        labelled = {pod: t for (ns, pod), t in self.labelled_at.items() if ns == namespace}
        serving = {
            cluster: planner.serving_pods(self.pods.owned(namespace, cluster), now, labelled)
            for cluster in clusters
        }
        serve_service = self.services.get(namespace, f"{name}-serve-svc")
        return planner.ServiceWorld(
            now=now,
            clusters=clusters,
            head_pods=heads,
            serve=self.tracker.probes(key),
            submitted=self.tracker.submitted_configs(key),
            rejected=self.tracker.rejected_configs(key),
            head_service=self.services.get(namespace, f"{name}-head-svc"),
            serve_service=serve_service,
            deletion_due=dict(self.deletion_due.get(key) or {}),
            serving_pods={cluster: counts[0] for cluster, counts in serving.items()},
            settled_pods={cluster: counts[1] for cluster, counts in serving.items()},
        )

    async def _execute(
        self, key: Key, raw: dict[str, Any], svc: RayService, step: planner.ServiceStep
    ) -> None:
        namespace, _ = key
        if step.add_finalizer:
            raw = await set_finalizer(
                self.bodies, self.client, "RayService", raw, planner.FINALIZER, present=True
            )
        for body in step.create:
            try:
                self.rayclusters.put(await self.client.create(path_of(body), body))
            except ApiError as error:
                if error.status != 409:
                    self.events.record(raw, "RayService", "Warning", "FailedToCreateRayCluster", str(error))
                    raise
        await self._delete_clusters(raw, step)
        if step.adopt is not None:
            await self._adopt(namespace, *step.adopt)
        if step.append_groups is not None:
            await self._append_groups(namespace, *step.append_groups)
        self.deletion_due[key] = step.deletion_due
        clusters = {
            n: RayCluster.model_validate(b)
            for n, b in (
                (n, self.rayclusters.get(namespace, n))
                for n in (*step.put_config, *step.poll, step.point_services_at or "")
            )
            if b
        }
        for cluster, config in step.put_config.items():
            if cluster in clusters:
                self.tracker.put(key, cluster, dashboard_url(clusters[cluster], self.config), config)
        if step.point_services_at in clusters:
            await self._point_services(raw, svc, clusters[step.point_services_at])
        for pod, value in step.serve_labels.items():
            patch = {"metadata": {"labels": {c.RAY_SERVE_LABEL: value}}}
            self.pods.upsert(await self.client.merge_patch(item("Pod", namespace, pod), patch))
            self.labelled_at[(namespace, pod)] = _utcnow()
            self.events.record(
                raw,
                "RayService",
                "Normal",
                "UpdatedHeadPodServeLabel",
                f"Pod {pod}: {c.RAY_SERVE_LABEL}={value}",
            )
        self.tracker.keep(
            key, {n: t for n in step.poll if n in clusters and (t := self._target(namespace, clusters[n]))}
        )
        for event in step.events:
            self.events.record(raw, "RayService", event.type, event.reason, event.message)
        await self._write_status(raw, step.status)

    def _target(self, namespace: str, cluster: RayCluster) -> Target | None:
        head = next(
            (
                p
                for p in self.pods.owned(namespace, cluster.metadata.name or "")
                if podstate.node_type(p) == c.HEAD_NODE
            ),
            None,
        )
        ip = ((head or {}).get("status") or {}).get("podIP")
        if head is None or not ip:
            return None
        ports = {
            p.get("name"): p.get("containerPort")
            for p in (cluster.spec.head_group_spec.template.get("spec", {}).get("containers") or [{}])[0].get(
                "ports"
            )
            or []
        }
        return Target(
            dashboard_url(cluster, self.config),
            namespace,
            podstate.name(head),
            ip,
            int(ports.get("serve") or DEFAULT_SERVE_PORT),
        )

    async def _adopt(self, namespace: str, cluster: str, spec_hash: str) -> None:
        """Stamp this operator's version and spec hash on a RayCluster another operator made."""
        body = self.rayclusters.get(namespace, cluster)
        if body is None:
            return
        patch = {
            "metadata": {
                "resourceVersion": body["metadata"]["resourceVersion"],
                "annotations": {
                    build.HASH_ANNOTATION: spec_hash,
                    c.KUBERAY_VERSION_ANNOTATION: c.OPERATOR_VERSION,
                },
            }
        }
        self.rayclusters.put(await self.client.merge_patch(item("RayCluster", namespace, cluster), patch))

    async def _append_groups(
        self, namespace: str, cluster: str, groups: list[dict[str, Any]], spec_hash: str
    ) -> None:
        """Keep the cluster's own worker groups as they are (the autoscaler owns their replicas) and append."""
        body = self.rayclusters.get(namespace, cluster)
        if body is None:
            return
        current = (body.get("spec") or {}).get("workerGroupSpecs") or []
        patch = {
            "metadata": {
                "resourceVersion": body["metadata"]["resourceVersion"],
                "annotations": {
                    build.HASH_ANNOTATION: spec_hash,
                    build.NUM_WORKER_GROUPS_ANNOTATION: str(len(current) + len(groups)),
                },
            },
            "spec": {"workerGroupSpecs": [*current, *groups]},
        }
        self.rayclusters.put(await self.client.merge_patch(item("RayCluster", namespace, cluster), patch))

    async def _point_services(self, raw: dict[str, Any], svc: RayService, cluster: RayCluster) -> None:
        """Create the head and serve Services, or move their selector to `cluster` (the ClusterIP stays)."""
        for body in build.build_services(svc, raw, cluster, self.config):
            meta = body["metadata"]
            existing = self.services.get(meta["namespace"], meta["name"])
            if existing is None:
                try:
                    self.services.upsert(await self.client.create(path_of(body), body))
                    reason, note = "CreatedService", f"Created Service {meta['name']}"
                except ApiError as error:
                    if error.status != 409:
                        raise
                    await take_over_service(self.client, self.services, body)
                    reason, note = "UpdatedService", f"Took over Service {meta['name']}"
                self.events.record(raw, "RayService", "Normal", reason, note)
            elif (existing.get("spec") or {}).get("selector") != body["spec"]["selector"]:
                patch = {
                    "metadata": {"labels": {c.RAY_CLUSTER_LABEL: cluster.metadata.name}},
                    "spec": {"selector": body["spec"]["selector"]},
                }
                self.services.upsert(
                    await self.client.merge_patch(item("Service", meta["namespace"], meta["name"]), patch)
                )
                self.events.record(
                    raw,
                    "RayService",
                    "Normal",
                    "UpdatedService",
                    f"Service {meta['name']} now selects {cluster.metadata.name}",
                )

    async def _delete_clusters(self, raw: dict[str, Any], step: planner.ServiceStep) -> None:
        namespace = raw["metadata"]["namespace"]
        for kind, name in step.delete:
            await self.client.delete(item(kind, namespace, name), body={"propagationPolicy": "Background"})

    async def _write_status(self, raw: dict[str, Any], status: dict[str, Any]) -> None:
        previous: dict[str, Any] = raw.get("status") or {}
        if previous == {**status, "lastUpdateTime": previous.get("lastUpdateTime")}:
            return
        status = {**status, "lastUpdateTime": _utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")}
        meta = raw["metadata"]
        updated = await self.client.replace_status(
            item("RayService", meta["namespace"], meta["name"]), status
        )
        self.bodies.put(updated)

    def _forget(self, key: Key) -> None:
        self.tracker.forget(key)
        self.invalid.forget(key)
        self.deletion_due.pop(key, None)
