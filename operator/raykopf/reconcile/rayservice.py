"""The RayService decisions (≙ rayservice_controller.go), pure: the clusters, the Serve config, the
Services' selector, the status. The controller observes (caches, Serve poller) and executes."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from raykopf import constants as c
from raykopf import goyaml
from raykopf.api import RayCluster
from raykopf.api.rayservice import RayService, RayServiceStatus
from raykopf.builders import rayservice as build
from raykopf.config import OperatorConfig
from raykopf.reconcile import pods as podstate
from raykopf.reconcile.actions import TAKE_OVER, Actions, Create, Delete, Patch
from raykopf.reconcile.conditions import set_condition
from raykopf.reconcile.hashing import rayservice_hash
from raykopf.reconcile.raycluster import random_suffix
from raykopf.reconcile.times import iso, parse
from raykopf.validation.names import parse_go_duration

FINALIZER = "ray.io/rayservice-finalizer"
DEFAULT_DELETION_DELAY = 60
# While Serve deploys, its status is polled; this is only the safety net between passes.
SAFETY_REQUEUE = 10.0
SETTLE_SECONDS = 2.0
"""How long a serving Pod must have been Ready and labelled before traffic moves to it. The Endpoints
controller and every node's proxy learn of a Pod change after this operator does; a selector switched
before they have would leave the serve Service without endpoints for a moment (connections refused)."""


@dataclass(frozen=True)
class ServeProbe:
    """What one cluster's Ray reported (background poller)."""

    applications: dict[str, Any] | None
    """`applications` of `GET /api/serve/applications/?api_type=declarative`; None: not known yet."""
    error: str | None = None
    proxy_healthy: bool = False
    """The head's Serve proxy answered `/-/healthz`."""


@dataclass(frozen=True)
class ServiceWorld:
    now: datetime.datetime
    clusters: dict[str, dict[str, Any]]
    """Every RayCluster this RayService owns, by name (raw)."""
    head_pods: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each cluster's head Pod."""
    serve: dict[str, ServeProbe] = field(default_factory=dict)
    submitted: dict[str, str] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    """Cluster -> a config (JSON) Ray refused; it is not sent again until the spec changes."""
    """Cluster -> the Serve config (JSON) last PUT to it by this operator process."""
    head_service: dict[str, Any] | None = None
    serve_service: dict[str, Any] | None = None
    serving_pods: dict[str, int] = field(default_factory=dict)
    """Cluster -> its Pods labelled `ray.io/serve=true` and Ready: what the serve Service would reach."""
    settled_pods: dict[str, int] = field(default_factory=dict)
    """Cluster -> those of its serving Pods that have been so for SETTLE_SECONDS."""
    deletion_due: dict[str, datetime.datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class PutConfig:
    """An intent: send `config` to the Serve REST API of `cluster` (in the background)."""

    cluster: str
    config: dict[str, Any]


@dataclass(frozen=True)
class Watch:
    """An intent: keep polling Serve on these clusters, and no other; forget deletion times of
    clusters no longer listed in `deletion_due`."""

    clusters: tuple[str, ...]
    deletion_due: dict[str, datetime.datetime]


@dataclass(frozen=True)
class Labelled:
    """An intent: the head Pod `pod` was just labelled (traffic waits SETTLE_SECONDS for it)."""

    pod: str


def has_finalizer(raw: dict[str, Any]) -> bool:
    return FINALIZER in (raw.get("metadata", {}).get("finalizers") or [])


def serve_config(svc: RayService) -> dict[str, Any]:
    """`serveConfigV2` as the JSON object Ray's Serve REST API takes."""
    loaded = goyaml.load(svc.spec.serve_config_v2 or "") or {}
    return loaded if isinstance(loaded, dict) else {}


def application_statuses(applications: dict[str, Any]) -> dict[str, Any]:
    """Ray's applications in KubeRay's status shape (the app named "" is `default`)."""
    result = {}
    for name, app in applications.items():
        deployments = {
            d: {k: v for k, v in (("status", dep.get("status")), ("message", dep.get("message"))) if v}
            for d, dep in (app.get("deployments") or {}).items()
        }
        entry: dict[str, Any] = {"status": app.get("status")}
        if app.get("message"):
            entry["message"] = app["message"]
        if deployments:
            entry["serveDeploymentStatuses"] = deployments
        result[name or "default"] = entry
    return result


def serve_ready(probe: ServeProbe | None) -> bool:
    """KubeRay: at least one application, and every application RUNNING."""
    apps = probe.applications if probe is not None else None
    return bool(apps) and all((a or {}).get("status") == "RUNNING" for a in (apps or {}).values())


def serving_pods(
    pods: Iterable[dict[str, Any]], now: datetime.datetime, labelled_at: dict[str, datetime.datetime]
) -> tuple[int, int]:
    """(How many Pods the serve Service selects: `ray.io/serve=true` and Ready; how many of them have
    been so for SETTLE_SECONDS). `labelled_at`: Pod name -> when this operator set its label."""
    serving = settled = 0
    for pod in pods:
        labels = pod["metadata"].get("labels") or {}
        if labels.get(c.RAY_SERVE_LABEL) != "true" or not podstate.is_ready(pod):
            continue
        serving += 1
        changes = [labelled_at.get(podstate.name(pod))] + [
            parse(x.get("lastTransitionTime"))
            for x in pod["status"].get("conditions") or []
            if x.get("type") == "Ready"
        ]
        since = max((t for t in changes if t is not None), default=None)
        if since is None or (now - since).total_seconds() >= SETTLE_SECONDS:
            settled += 1
    return serving, settled


def _head_ready(cluster: dict[str, Any] | None) -> bool:
    conditions = ((cluster or {}).get("status") or {}).get("conditions") or []
    return any(x.get("type") == "HeadPodReady" and x.get("status") == "True" for x in conditions)


def _cluster_version(cluster: dict[str, Any]) -> str:
    return str((cluster.get("metadata", {}).get("annotations") or {}).get(c.KUBERAY_VERSION_ANNOTATION, ""))


def _cluster_hash(cluster: dict[str, Any]) -> str | None:
    return (cluster.get("metadata", {}).get("annotations") or {}).get(build.HASH_ANNOTATION)


def _condition(status: dict[str, Any], kind: str, value: str, reason: str, message: str, now: str) -> None:
    conditions = status.setdefault("conditions", [])
    set_condition(conditions, kind, value, reason, message, now, status.get("observedGeneration"))


class _Planner:
    def __init__(
        self,
        svc: RayService,
        raw: dict[str, Any],
        world: ServiceWorld,
        config: OperatorConfig,
        suffix: Callable[[], str],
    ) -> None:
        self.svc, self.raw, self.world, self.config, self.suffix = svc, raw, world, config, suffix
        self.name = svc.metadata.name or ""
        self.namespace = svc.metadata.namespace or "default"
        self.status: dict[str, Any] = json.loads(json.dumps(raw.get("status") or {}))
        self.step = Actions()
        self.goal = rayservice_hash(raw["spec"]["rayClusterConfig"])
        self.put_config: dict[str, dict[str, Any]] = {}
        self.point_services_at: str | None = None
        self.poll: list[str] = []
        self.deletion_due: dict[str, datetime.datetime] = {}

    def cluster_name(self, which: str) -> str | None:
        return (self.status.get(which) or {}).get("rayClusterName") or None

    def set_cluster(self, which: str, name: str | None) -> None:
        if name is None:
            self.status.pop(which, None)
        else:
            self.status[which] = {"rayClusterName": name}

    @property
    def zero_downtime(self) -> bool:
        kind = self.svc.spec.upgrade_strategy.type if self.svc.spec.upgrade_strategy else None
        if kind == "None":
            return False
        return kind is not None or self.config.enable_zero_downtime

    def run(self) -> Actions:
        self.status["observedGeneration"] = self.svc.metadata.generation
        if not has_finalizer(self.raw):
            self.step.add_finalizer = FINALIZER
        if self._condition_reason("Ready") == "InitializingTimeout":
            return self._done()  # terminal: delete and recreate the RayService to try again
        if self.suspend() or self.initializing_timed_out():
            return self._done()
        self.choose_clusters()
        self.serve()
        self.switch_traffic()
        self.clean_up(delay=self.svc.spec.ray_cluster_deletion_delay_seconds)
        self.label_heads()
        self.conditions()
        return self._done()

    def _done(self) -> Actions:
        for cluster, config in self.put_config.items():
            self.step.intents.append(PutConfig(cluster, config))
        self.step.intents.append(Watch(tuple(self.poll), self.deletion_due))
        if self.point_services_at is not None:
            self._point_services(self.point_services_at)
        self.step.status = RayServiceStatus.model_validate(self.status)
        return self.step

    def _point_services(self, target: str) -> None:
        """Create the head and serve Services, or move their selector to `target` (the ClusterIP stays)."""
        cluster = RayCluster.model_validate(self.world.clusters[target])
        existing = {
            f"{self.name}-head-svc": self.world.head_service,
            f"{self.name}-serve-svc": self.world.serve_service,
        }
        for body in build.build_services(self.svc, self.raw, cluster, self.config):
            name = body["metadata"]["name"]
            current = existing.get(name)
            if current is None:
                self.step.creates.append(
                    Create(body, "CreatedService", if_exists=TAKE_OVER, note="Created the service {}")
                )
            elif (current.get("spec") or {}).get("selector") != body["spec"]["selector"]:
                patch = {
                    "metadata": {"labels": {c.RAY_CLUSTER_LABEL: target}},
                    "spec": {"selector": body["spec"]["selector"]},
                }
                self.step.patches.append(
                    Patch("Service", self.namespace, name, patch, "UpdatedService", "Updated the service {}")
                )

    def _update_cluster(self, name: str, patch: dict[str, Any]) -> None:
        """Patch the RayCluster `name` as read: a concurrent change (the autoscaler's) is a conflict,
        retried from the new version, never overwritten."""
        version = self.world.clusters[name]["metadata"].get("resourceVersion")
        body = {**patch, "metadata": {**patch.get("metadata", {}), "resourceVersion": version}}
        self.step.patches.append(Patch("RayCluster", self.namespace, name, body))

    def choose_clusters(self) -> None:
        active, pending = self.cluster_name("activeServiceStatus"), self.cluster_name("pendingServiceStatus")
        newest = pending or active
        newest_cluster = self.world.clusters.get(newest) if newest else None
        version = _cluster_version(newest_cluster) if newest_cluster is not None else c.OPERATOR_VERSION
        if active and not pending and newest_cluster is not None and version != c.OPERATOR_VERSION:
            # Made by KubeRay (or another raykopf version): KubeRay takes such a cluster over in place
            # (rayservice_controller.shouldUpdateCluster) instead of building a new one. Its hash is
            # another operator's: stamp the hash of the cluster's own spec, so that a rayClusterConfig
            # that differs from it is still an upgrade on the next pass, never lost.
            own = rayservice_hash(newest_cluster.get("spec") or {})
            # Stamp this operator's version and the hash of the cluster's own spec.
            self._update_cluster(
                active,
                {
                    "metadata": {
                        "annotations": {
                            build.HASH_ANNOTATION: own,
                            c.KUBERAY_VERSION_ANNOTATION: c.OPERATOR_VERSION,
                        }
                    }
                },
            )
            self.step.event(
                "Normal",
                "UpdatedRayCluster",
                f"Took over RayCluster {active} (made by {version or 'another operator'}) in place",
            )
            meta = newest_cluster.get("metadata") or {}
            annotations = {**(meta.get("annotations") or {}), build.HASH_ANNOTATION: own}
            newest_cluster = {**newest_cluster, "metadata": {**meta, "annotations": annotations}}
        named = pending
        if newest is None:
            pending = self._new_name()
        elif newest_cluster is not None and _cluster_hash(newest_cluster) != self.goal:
            appended = self._appended_groups(newest_cluster)
            if appended:
                # The cluster's own worker groups stay as they are (the autoscaler owns their replicas).
                groups = (newest_cluster.get("spec") or {}).get("workerGroupSpecs") or []
                self._update_cluster(
                    newest,
                    {
                        "metadata": {
                            "annotations": {
                                build.HASH_ANNOTATION: self.goal,
                                build.NUM_WORKER_GROUPS_ANNOTATION: str(len(groups) + len(appended)),
                            }
                        },
                        "spec": {"workerGroupSpecs": [*groups, *appended]},
                    },
                )
                self.step.event(
                    "Normal",
                    "UpdatedRayCluster",
                    f"Added {len(appended)} worker group(s) to {newest} in place",
                )
            elif self.zero_downtime:
                pending = self._new_name()
            self.step.event(
                "Normal", "UpgradeStarted", f"rayClusterConfig changed: new cluster {pending} prepared"
            )
        self.set_cluster("pendingServiceStatus", pending)
        if pending != named:
            # A new name is stored before its cluster is made (as KubeRay's
            # markRestartAndAddPendingClusterName does): a create whose status write then failed is
            # never made again under another name.
            self.step.status_first = True
        for name in (active, pending):
            if name and name not in self.world.clusters:
                body = build.build_cluster(self.svc, self.raw, name, self.goal)
                self.step.creates.append(Create(body, "CreatedRayCluster", note="Created the RayCluster {}"))

    def _condition_reason(self, kind: str, status: str | None = None) -> str | None:
        for condition in self.status.get("conditions") or []:
            if condition.get("type") == kind and (status is None or condition.get("status") == status):
                return str(condition.get("reason"))
        return None

    def _remove_everything(self) -> bool:
        """Delete every cluster and both Services; True once nothing is left."""
        for name, cluster in self.world.clusters.items():
            if not cluster["metadata"].get("deletionTimestamp"):
                self.step.deletes.append(Delete("RayCluster", self.namespace, name))
        for service in (self.world.head_service, self.world.serve_service):
            if service is not None:
                self.step.deletes.append(Delete("Service", self.namespace, service["metadata"]["name"]))
        gone = (
            not self.world.clusters and self.world.head_service is None and self.world.serve_service is None
        )
        if not gone:
            self.step.later(2)
        return gone

    def suspend(self) -> bool:
        """Atomic, as for RayClusters: once Suspending, everything goes even if `suspend` is turned off."""
        now = iso(self.world.now)
        suspending = self._condition_reason("Suspending", "True") is not None
        if not (self.svc.spec.suspend or suspending):
            if self._condition_reason("Suspended", "True") is not None:
                _condition(self.status, "Suspended", "False", "RayServiceResumed", "", now)
            return False
        if self._condition_reason("Suspended", "True") is not None and self.svc.spec.suspend:
            return True
        if not self._remove_everything():
            if not suspending:
                self.step.event("Normal", "SuspendRequested", "deleting every RayCluster and Service")
            _condition(self.status, "Suspending", "True", "SuspendInProgress", "", now)
            _condition(self.status, "Ready", "False", "SuspendInProgress", "", now)
            return True
        for which in ("activeServiceStatus", "pendingServiceStatus"):
            self.status.pop(which, None)
        _condition(self.status, "Suspending", "False", "SuspendComplete", "", now)
        _condition(self.status, "Suspended", "True", "SuspendComplete", "", now)
        _condition(self.status, "Ready", "False", "SuspendComplete", "", now)
        self.status["numServeEndpoints"] = 0
        self.status["serviceStatus"] = ""
        return True

    def initializing_timed_out(self) -> bool:
        """`ray.io/initializing-timeout`: Ready still Initializing after it -> terminal, clusters deleted."""
        text = (self.svc.metadata.annotations or {}).get(c.RAYSERVICE_INITIALIZING_TIMEOUT_ANNOTATION)
        if not text or self._condition_reason("Ready") not in (None, "Initializing"):
            return False
        seconds = parse_go_duration(text) or (float(text) if text.isdigit() else None)
        since = (
            next(
                (
                    x.get("lastTransitionTime")
                    for x in self.status.get("conditions") or []
                    if x.get("type") == "Ready"
                ),
                None,
            )
            or self.svc.metadata.creation_timestamp
        )
        start = parse(since)
        if seconds is None or start is None:
            return False
        left = (start + datetime.timedelta(seconds=seconds) - self.world.now).total_seconds()
        if left > 0:
            self.step.later(left)
            return False
        message = f"RayService did not become ready within {text}"
        self._remove_everything()
        for which in ("activeServiceStatus", "pendingServiceStatus"):
            self.status.pop(which, None)
        _condition(self.status, "Ready", "False", "InitializingTimeout", message, iso(self.world.now))
        self.step.event("Warning", "RayServiceInitializingTimeout", message)
        return True

    def _appended_groups(self, cluster: dict[str, Any]) -> list[dict[str, Any]]:
        """Worker groups added after the cluster's own ones, with nothing else changed: KubeRay updates the
        cluster in place instead of starting a new one."""
        annotations = cluster["metadata"].get("annotations") or {}
        known = int(annotations.get(build.NUM_WORKER_GROUPS_ANNOTATION) or 0)
        goal_groups = self.raw["spec"]["rayClusterConfig"].get("workerGroupSpecs") or []
        if len(goal_groups) <= known:
            return []
        trimmed = {**self.raw["spec"]["rayClusterConfig"], "workerGroupSpecs": goal_groups[:known]}
        return list(goal_groups[known:]) if rayservice_hash(trimmed) == _cluster_hash(cluster) else []

    def _new_name(self) -> str:
        taken = set(self.world.clusters) | {self.cluster_name("activeServiceStatus")}
        while (name := f"{self.name}-{self.suffix()}") in taken:
            pass
        return name

    def serve(self) -> None:
        """Copy both clusters' Serve statuses; (re)submit the config to the target cluster (the pending
        one during an upgrade: the active one keeps serving what it has)."""
        target = self.cluster_name("pendingServiceStatus") or self.cluster_name("activeServiceStatus")
        for which in ("activeServiceStatus", "pendingServiceStatus"):
            name = self.cluster_name(which)
            cluster = self.world.clusters.get(name) if name else None
            if name is None or cluster is None:
                continue
            self.status[which]["rayClusterStatus"] = cluster.get("status") or {}
            if not _head_ready(cluster):
                self.step.later(SAFETY_REQUEUE)
                continue
            self.poll.append(name)
            probe = self.world.serve.get(name)
            if probe is None or probe.applications is None:
                self.step.later(SAFETY_REQUEUE)
                continue
            had_apps = bool(((self.raw.get("status") or {}).get(which) or {}).get("applicationStatuses"))
            self._copy_statuses(which, name, probe.applications)
            wanted = serve_config(self.svc)
            wanted_json = json.dumps(wanted, sort_keys=True)
            stale = (
                self.world.submitted.get(name) != wanted_json and self.world.rejected.get(name) != wanted_json
            )
            # Zero applications after some ran: the head restarted without fault tolerance.
            lost = had_apps and not probe.applications
            if name == target and (stale or lost):
                self.put_config[name] = wanted
                self.step.event(
                    "Normal", "UpdatedServeApplications", f"Updated the Serve applications of {name}"
                )
            if not serve_ready(probe):
                self.step.later(SAFETY_REQUEUE)

    def _copy_statuses(self, which: str, cluster: str, applications: dict[str, Any]) -> None:
        before = ((self.raw.get("status") or {}).get(which) or {}).get("applicationStatuses") or {}
        after = application_statuses(applications)
        self.status[which]["applicationStatuses"] = after
        for app, entry in after.items():
            if entry.get("status") == "DEPLOY_FAILED" and before.get(app) != entry:
                # Ray's message is a traceback: its last line says what went wrong.
                lines = [line for line in str(entry.get("message") or "").splitlines() if line.strip()]
                message = f"{cluster}/{app}: DEPLOY_FAILED: {lines[-1] if lines else ''}"
                self.step.event("Warning", "FailedToUpdateServeApplications", message[:1024])

    def switch_traffic(self) -> None:
        active, pending = self.cluster_name("activeServiceStatus"), self.cluster_name("pendingServiceStatus")
        # Traffic moves only to a cluster whose applications all run and whose serving Pods have been
        # Ready and labelled for a moment: the Service must have endpoints the moment its selector changes.
        target = next(
            (
                n
                for n in (pending, active)
                if n
                and serve_ready(self.world.serve.get(n))
                and n not in self.put_config
                and self.world.settled_pods.get(n, 0) > 0
            ),
            None,
        )
        if any(
            n and n != target and self.world.serving_pods.get(n, 0) > self.world.settled_pods.get(n, 0)
            for n in (pending, active)
        ):
            self.step.later(SETTLE_SECONDS)
        current = (
            ((self.world.serve_service or {}).get("spec") or {}).get("selector", {}).get(c.RAY_CLUSTER_LABEL)
        )
        if target is not None and (
            current != target or self.world.head_service is None or self.world.serve_service is None
        ):
            self.point_services_at = target
            current = target
        if pending and current == pending:
            self.status["activeServiceStatus"] = self.status.pop("pendingServiceStatus")
            self.step.event("Normal", "PromotedPendingCluster", f"traffic moved to {pending}")

    def clean_up(self, delay: int | None) -> None:
        keep = {self.cluster_name("activeServiceStatus"), self.cluster_name("pendingServiceStatus")}
        wait = datetime.timedelta(seconds=DEFAULT_DELETION_DELAY if delay is None else delay)
        for name, cluster in self.world.clusters.items():
            if name in keep or cluster["metadata"].get("deletionTimestamp"):
                continue
            due = self.world.deletion_due.get(name) or self.world.now + wait
            if self.world.now >= due:
                self.step.deletes.append(Delete("RayCluster", self.namespace, name))
                self.step.event("Normal", "DeletedRayCluster", f"Deleted RayCluster {name}")
            else:
                self.deletion_due[name] = due
                self.step.later((due - self.world.now).total_seconds())

    def label_heads(self) -> None:
        exclude = bool(self.svc.spec.exclude_head_pod_from_serve_svc)
        for name in (self.cluster_name("activeServiceStatus"), self.cluster_name("pendingServiceStatus")):
            head = self.world.head_pods.get(name or "")
            if head is None:
                continue
            probe = self.world.serve.get(name or "")
            wanted = "true" if (probe is not None and probe.proxy_healthy and not exclude) else "false"
            if (head.get("metadata", {}).get("labels") or {}).get(c.RAY_SERVE_LABEL) != wanted:
                pod = podstate.name(head)
                patch = {"metadata": {"labels": {c.RAY_SERVE_LABEL: wanted}}}
                note = f'Updated the serve label to "{wanted}" for the Head Pod {{}}'
                self.step.patches.append(
                    Patch("Pod", self.namespace, pod, patch, "UpdatedHeadPodServeLabel", note)
                )
                self.step.intents.append(Labelled(pod))

    def conditions(self) -> None:
        """≙ rayservice_controller.calculateConditions."""
        now = iso(self.world.now)
        # What the serve Service's Endpoints hold: Ready `ray.io/serve=true` Pods of the cluster it selects.
        selector = ((self.world.serve_service or {}).get("spec") or {}).get("selector") or {}
        selected = self.point_services_at or selector.get(c.RAY_CLUSTER_LABEL)
        endpoints = self.world.serving_pods.get(selected, 0) if selected else 0
        if endpoints:
            self.status["numServeEndpoints"] = endpoints
        else:
            self.status.pop("numServeEndpoints", None)  # KubeRay's int32 `omitempty`
        if not self.status.get("conditions"):
            initializing = "RayService is initializing"
            _condition(self.status, "Ready", "False", "Initializing", initializing, now)
            _condition(self.status, "UpgradeInProgress", "False", "Initializing", initializing, now)
        if endpoints > 0:
            _condition(
                self.status,
                "Ready",
                "True",
                "NonZeroServeEndpoints",
                "Number of serve endpoints is greater than 0",
                now,
            )
        elif self._condition_reason("Ready", "True") is not None:
            _condition(
                self.status,
                "Ready",
                "False",
                "ZeroServeEndpoints",
                "Number of serve endpoints dropped to 0",
                now,
            )
        active, pending = self.cluster_name("activeServiceStatus"), self.cluster_name("pendingServiceStatus")
        if active and pending:
            _condition(
                self.status,
                "UpgradeInProgress",
                "True",
                "BothActivePendingClustersExist",
                "Both active and pending Ray clusters exist",
                now,
            )
        elif active:
            _condition(
                self.status,
                "UpgradeInProgress",
                "False",
                "NoPendingCluster",
                "Active Ray cluster exists and no pending Ray cluster",
                now,
            )
        elif self._condition_reason("UpgradeInProgress") not in ("Initializing", "InitializingTimeout"):
            _condition(
                self.status,
                "UpgradeInProgress",
                "Unknown",
                "NoActiveCluster",
                "No active Ray cluster exists, and the RayService is not initializing",
                now,
            )
        if endpoints > 0:
            self.status["serviceStatus"] = "Running"
        else:
            self.status.pop("serviceStatus", None)  # KubeRay's NotRunning is "", an omitempty string


def plan_rayservice(
    svc: RayService,
    raw: dict[str, Any],
    world: ServiceWorld,
    config: OperatorConfig,
    *,
    suffix: Callable[[], str] = random_suffix,
) -> Actions:
    return _Planner(svc, raw, world, config, suffix).run()


def validation_failed(raw: dict[str, Any], message: str, now: datetime.datetime) -> RayServiceStatus:
    status: dict[str, Any] = json.loads(json.dumps(raw.get("status") or {}))
    status["observedGeneration"] = raw["metadata"].get("generation")
    _condition(status, "Ready", "False", "ValidationFailed", message, iso(now))
    status.pop("serviceStatus", None)  # KubeRay's NotRunning: "", omitted
    return RayServiceStatus.model_validate(status)


def plan_deletion(namespace: str, world: ServiceWorld) -> Actions:
    """The RayService is being deleted: every cluster goes at once; the finalizer only after they are gone."""
    step = Actions()
    for name, cluster in world.clusters.items():
        if not cluster["metadata"].get("deletionTimestamp"):
            step.deletes.append(Delete("RayCluster", namespace, name))
    step.remove_finalizer = None if world.clusters else FINALIZER
    if world.clusters:
        step.later(2)
    return step
