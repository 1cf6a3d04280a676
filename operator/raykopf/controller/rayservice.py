"""reconcile_one for a RayService: get -> validate -> observe (caches, the Serve poller) -> plan ->
execute -> status. Serve is only ever asked in the background."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from raykopf import constants as c
from raykopf.api import RayCluster
from raykopf.api.base import ApiModel
from raykopf.api.rayservice import RayService, RayServiceStatus
from raykopf.builders.service import dashboard_url
from raykopf.config import OperatorConfig
from raykopf.controller.failures import clear_failure, report_failure
from raykopf.controller.invalid import InvalidReports
from raykopf.k8s.client import KubeClient
from raykopf.k8s.executor import Executor
from raykopf.k8s.informer import Informer
from raykopf.k8s.serve import ServeTracker, Target
from raykopf.k8s.store import LatestStore, current
from raykopf.reconcile import pods as podstate
from raykopf.reconcile import rayservice as planner
from raykopf.reconcile.actions import Actions
from raykopf.validation import Gates

Key = tuple[str, str]
DEFAULT_SERVE_PORT = 8000


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


@dataclass
class RayServiceReconciler:
    client: KubeClient
    executor: Executor
    rayclusters: LatestStore
    pods: Informer
    services: Informer
    tracker: ServeTracker
    config: OperatorConfig
    bodies: LatestStore
    deletion_due: dict[Key, dict[str, datetime.datetime]] = field(default_factory=dict)
    labelled_at: dict[tuple[str, str], datetime.datetime] = field(default_factory=dict)
    """(namespace, Pod) -> when this process labelled the Pod `ray.io/serve=true`."""
    invalid: InvalidReports = field(init=False)

    def __post_init__(self) -> None:
        self.invalid = InvalidReports(self.executor.events, Gates.of(self.config))

    def rejected(self, key: Key, cluster: str, message: str) -> None:
        """Ray refused the Serve config: say so on the RayService, with Ray's message."""
        raw = self.bodies.get(*key)
        if raw is not None:
            note = f"{cluster}: {message}"[:1024]
            self.executor.events.record(raw, "RayService", "Warning", "FailedToUpdateServeApplications", note)

    def owner_of(self, namespace: str, cluster: str) -> Key | None:
        """The RayService a RayCluster belongs to, from the cluster's labels."""
        labels = ((self.rayclusters.get(namespace, cluster) or {}).get("metadata") or {}).get("labels") or {}
        if labels.get(c.RAY_ORIGINATED_FROM_CRD_LABEL) != "RayService":
            return None
        owner = labels.get(c.RAY_ORIGINATED_FROM_CR_NAME_LABEL)
        return (namespace, owner) if owner else None

    async def report_failure(self, key: Key, error: Exception) -> None:
        await report_failure(self.executor, self.bodies, "RayService", key, error)

    async def clear_failure(self, key: Key) -> None:
        await clear_failure(self.executor, self.bodies, "RayService", key)

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
            actions = planner.plan_deletion(namespace, world)
            outcome = await self.executor.run("RayService", raw, actions)
            if outcome.failure is not None:
                raise outcome.failure.error
            if actions.remove_finalizer:
                self._forget(key)
            return actions.requeue_after
        errors = self.invalid.errors(key, raw)
        if errors:
            message = self.invalid.report(key, raw, "RayService", errors)
            status = self._stamped(raw, planner.validation_failed(raw, message, _utcnow()))
            await self.executor.write_status("RayService", raw, status)
            return None
        actions = planner.plan_rayservice(RayService.model_validate(raw), raw, world, self.config)
        await self._execute(key, raw, actions)
        return actions.requeue_after

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

    async def _execute(self, key: Key, raw: dict[str, Any], actions: Actions) -> None:
        namespace, _ = key
        if actions.status is not None:
            actions.status = self._stamped(raw, actions.status)
        outcome = await self.executor.run("RayService", raw, actions)
        if outcome.failure is not None:
            raise outcome.failure.error
        if outcome.owner is None:
            self._forget(key)
            return
        named = {n for i in actions.intents if isinstance(i, planner.Watch) for n in i.clusters}
        named |= {i.cluster for i in actions.intents if isinstance(i, planner.PutConfig)}
        clusters = self._clusters(namespace, named)
        for intent in actions.intents:
            if isinstance(intent, planner.Labelled):
                self.labelled_at[(namespace, intent.pod)] = _utcnow()
            elif isinstance(intent, planner.Watch):
                self.deletion_due[key] = intent.deletion_due
                watched = {
                    n: t
                    for n in intent.clusters
                    if n in clusters and (t := self._target(namespace, clusters[n]))
                }
                self.tracker.keep(key, watched)
            elif isinstance(intent, planner.PutConfig) and intent.cluster in clusters:
                url = dashboard_url(clusters[intent.cluster], self.config)
                self.tracker.put(key, intent.cluster, url, intent.config)

    def _clusters(self, namespace: str, names: set[str]) -> dict[str, RayCluster]:
        found = ((n, self.rayclusters.get(namespace, n)) for n in names)
        return {n: RayCluster.model_validate(body) for n, body in found if body}

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

    @staticmethod
    def _stamped(raw: dict[str, Any], status: ApiModel) -> RayServiceStatus:
        """`status` with a new lastUpdateTime when anything else in it changed."""
        previous: dict[str, Any] = raw.get("status") or {}
        wanted = status.to_dict()
        if previous == {**wanted, "lastUpdateTime": previous.get("lastUpdateTime")}:
            return RayServiceStatus.model_validate(previous)
        return RayServiceStatus.model_validate(
            {**wanted, "lastUpdateTime": _utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")}
        )

    def _forget(self, key: Key) -> None:
        self.tracker.forget(key)
        self.invalid.forget(key)
        self.deletion_due.pop(key, None)
