"""The RayJob state machine (≙ rayjob_controller.go Reconcile), pure: what the world looks like in,
the next status and the actions to take out. The controller observes and executes."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from raykopf import constants as c
from raykopf.api import RayCluster
from raykopf.api.rayjob import RayJob, RayJobStatus
from raykopf.builders import rayjob as build
from raykopf.builders.service import dashboard_url
from raykopf.config import OperatorConfig
from raykopf.reconcile import pods as podstate
from raykopf.reconcile.actions import KEEP, TAKE_OVER, Actions, Create, Delete, Patch
from raykopf.reconcile.raycluster import random_suffix
from raykopf.reconcile.times import iso, parse

NEW = ""
INITIALIZING = "Initializing"
WAITING = "Waiting"
RUNNING = "Running"
COMPLETE = "Complete"
FAILED = "Failed"
SUSPENDING = "Suspending"
SUSPENDED = "Suspended"
RETRYING = "Retrying"
VALIDATION_FAILED = "ValidationFailed"
TERMINAL = (COMPLETE, FAILED, VALIDATION_FAILED)
RAY_TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
FINALIZER = "ray.io/rayjob-finalizer"

# After the submitter finished, the Ray job has this long to report a terminal status (KubeRay: 30 s).
SUBMITTER_GRACE = datetime.timedelta(seconds=30)
# While a job runs its status is polled; between passes nothing else needs a timer except deadlines.
SAFETY_REQUEUE = 30.0
MESSAGE_LIMIT = 4000
POLICY_RANK = {"DeleteSelf": 3, "DeleteCluster": 2, "DeleteWorkers": 1, "DeleteNone": 0}


@dataclass(frozen=True)
class Probe:
    """The latest answer of the Ray dashboard about one job (from the background poller)."""

    info: dict[str, Any] | None
    """`GET /api/jobs/<id>`, or None when Ray answered 404 (no such job yet)."""
    error: str | None = None
    """Set when the dashboard could not be asked; `info` is then the last good answer, if any."""
    failing_since: datetime.datetime | None = None


@dataclass(frozen=True)
class World:
    now: datetime.datetime
    cluster: dict[str, Any] | None
    """The RayCluster named in status.rayClusterName (raw), if it exists."""
    cluster_pods: list[dict[str, Any]] = field(default_factory=list)
    submitter: dict[str, Any] | None = None
    """The batch Job `<rayjob>` (K8sJobMode)."""
    job_service: dict[str, Any] | None = None
    """The RayJob's own head Service `<rayjob>-head-svc`."""
    probe: Probe | None = None


@dataclass(frozen=True)
class Poll:
    """An intent: keep asking the dashboard at `address` about `job_id` (and submit it, HTTPMode)."""

    address: str
    job_id: str
    submit: dict[str, Any] | None = None
    """HTTPMode: the body to POST to the dashboard."""


def poll_of(actions: Actions) -> Poll | None:
    return next((i for i in actions.intents if isinstance(i, Poll)), None)


def _from_ms(value: Any) -> str | None:
    if not value:
        return None
    return iso(datetime.datetime.fromtimestamp(int(value) / 1000, datetime.UTC))


def _short(message: str) -> str:
    """Ray's failure message ends with the driver's last output: keep its head and its tail."""
    if len(message) <= MESSAGE_LIMIT:
        return message
    return message[:1000] + "\n...\n" + message[-(MESSAGE_LIMIT - 1005) :]


def has_finalizer(raw: dict[str, Any]) -> bool:
    return FINALIZER in (raw.get("metadata", {}).get("finalizers") or [])


class _Machine:
    """One pass; `status` is edited in place, transitions recorded as events."""

    def __init__(
        self,
        job: RayJob,
        raw: dict[str, Any],
        world: World,
        config: OperatorConfig,
        suffix: Callable[[], str],
    ) -> None:
        self.job, self.raw, self.world, self.config, self.suffix = job, raw, world, config, suffix
        self.name = job.metadata.name or ""
        self.namespace = job.metadata.namespace or "default"
        self.status: dict[str, Any] = dict(raw.get("status") or {})
        self.step = Actions()
        self.mode = build.mode(job)
        self.track: tuple[str, str] | None = None
        self.submit: dict[str, Any] | None = None

    # -- helpers -------------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return str(self.status.get("jobDeploymentStatus") or NEW)

    def event(self, kind: str, reason: str, message: str) -> None:
        self.step.event(kind, reason, message)

    def move(self, state: str, reason: str | None = None, message: str | None = None) -> None:
        previous = self.state
        self.status["jobDeploymentStatus"] = state
        if reason is not None:
            self.status["reason"] = reason
        if message is not None:
            self.status["message"] = message
        if state in (COMPLETE, FAILED):
            self.status["endTime"] = iso(self.world.now)
            counter = "succeeded" if state == COMPLETE else "failed"
            self.status[counter] = int(self.status.get(counter) or 0) + 1
        if previous != state and state != NEW:  # New ("") only passes on: it is told by the next move
            kind = "Warning" if state in (FAILED, VALIDATION_FAILED) else "Normal"
            text = f"jobDeploymentStatus {previous or 'New'} -> {state}"
            if message:
                text += f": {message}"
            self.event(kind, reason or state, text[:1024])

    def later(self, seconds: float) -> None:
        self.step.later(seconds)

    @property
    def selector_cluster(self) -> str | None:
        return (self.job.spec.cluster_selector or {}).get(c.RAYJOB_CLUSTER_SELECTOR_KEY)

    @property
    def cluster_model(self) -> RayCluster | None:
        if self.world.cluster is None:
            return None
        return RayCluster.model_validate(self.world.cluster)

    def _suspend_if_asked(self) -> bool:
        if not self.job.spec.suspend:
            return False
        self.move(SUSPENDING)
        self.suspending()
        return True

    # -- the pass ------------------------------------------------------------------------------------
    def run(self) -> Actions:
        self.status["observedGeneration"] = self.job.metadata.generation
        if self.state in (INITIALIZING, WAITING, RUNNING) and self._deadline_passed():
            return self._done()
        handler = {
            NEW: self.new,
            INITIALIZING: self.initializing,
            WAITING: self.waiting,
            RUNNING: self.running,
            RETRYING: self.retrying,
            SUSPENDING: self.suspending,
            SUSPENDED: self.suspended,
            COMPLETE: self.finished,
            FAILED: self.finished,
        }.get(self.state)
        if handler is not None:
            handler()
        if self.track is not None and all(self.track):
            self.step.intents.append(Poll(*self.track, self.submit))
        return self._done()

    def _done(self) -> Actions:
        self.step.status = RayJobStatus.model_validate(self.status)
        return self.step

    def _deadline_passed(self) -> bool:
        start = parse(self.status.get("startTime"))
        if start is None:
            return False
        elapsed = (self.world.now - start).total_seconds()
        active = self.job.spec.active_deadline_seconds
        pre = self.job.spec.pre_running_deadline_seconds
        if active is not None and elapsed >= active:
            self.move(
                FAILED,
                "DeadlineExceeded",
                f"The RayJob has passed the activeDeadlineSeconds. StartTime: {self.status['startTime']}. "
                f"ActiveDeadlineSeconds: {active}",
            )
            self.after_failure()
            return True
        if pre is not None and self.state in (INITIALIZING, WAITING) and elapsed >= pre:
            self.move(
                FAILED,
                "PreRunningDeadlineExceeded",
                f"The RayJob did not reach Running within the preRunningDeadlineSeconds. StartTime: "
                f"{self.status['startTime']}. PreRunningDeadlineSeconds: {pre}",
            )
            self.after_failure()
            return True
        for deadline in (active, pre if self.state in (INITIALIZING, WAITING) else None):
            if deadline is not None:
                self.later(deadline - elapsed)
        return False

    def new(self) -> None:
        if not has_finalizer(self.raw):
            self.step.add_finalizer = FINALIZER
        if self.job.spec.suspend:
            self.move(SUSPENDED)
            return
        self.status["jobId"] = self.job.spec.job_id or (
            "" if self.mode == c.INTERACTIVE_MODE else f"{self.name}-{self.suffix()}"
        )
        self.status["rayClusterName"] = self.selector_cluster or f"{self.name}-{self.suffix()}"
        self.status["startTime"] = iso(self.world.now)
        for key in (
            "jobStatus",  # KubeRay's JobStatusNew is "", which its `omitempty` leaves out
            "endTime",
            "rayJobInfo",
            "dashboardURL",
            "reason",
            "message",
            "jobStatusCheckFailureStartTime",
        ):
            self.status.pop(key, None)
        self.move(INITIALIZING)
        # The names are stored before anything is made with them: a create whose status write then
        # failed would otherwise be made again under new names (a second RayCluster, a second Ray
        # job), as KubeRay also avoids.
        self.step.status_first = True
        self.initializing()

    def initializing(self) -> None:
        if self._suspend_if_asked():
            return
        cluster_name = self.status["rayClusterName"]
        if self.world.cluster is None:
            if self.selector_cluster:
                self.status["message"] = f"RayCluster {cluster_name} (clusterSelector) not found"
                self.event("Warning", "RayClusterNotFound", self.status["message"])
                self.later(5)
                return
            body = build.build_cluster(self.job, self.raw, cluster_name, self.status["jobId"], self.config)
            self.step.creates.append(Create(body, "CreatedRayCluster"))
            self.later(SAFETY_REQUEUE)
            return
        cluster = self.cluster_model
        assert cluster is not None
        self._copy_cluster_status()
        if (self.world.cluster.get("status") or {}).get("state") != "ready":
            problem = cluster_problem(self.world.cluster_pods)
            text = f"Waiting for RayCluster {cluster_name} to be ready" + (f": {problem}" if problem else "")
            if problem and self.status.get("message") != text:
                self.event("Warning", "RayClusterNotReady", text)
            self.status["message"] = text
            self.later(SAFETY_REQUEUE)
            return
        self.status.pop("message", None)
        self.status["dashboardURL"] = dashboard_url(cluster, self.config)
        if self.mode == c.INTERACTIVE_MODE:
            self.move(WAITING)
            self.waiting()
            return
        if self.mode == c.K8S_JOB_MODE and self.world.submitter is None:
            submitter = build.build_submitter_job(
                self.job, self.raw, cluster, self.status["dashboardURL"], self.status["jobId"], self.config
            )
            self.step.creates.append(Create(submitter, "CreatedRayJobSubmitter", if_exists=KEEP))
        self.move(RUNNING)
        self.running()

    def waiting(self) -> None:
        if self._suspend_if_asked():
            return
        if self.job.spec.job_id:
            self.status["jobId"] = self.job.spec.job_id
            self.move(RUNNING)
            self.running()
            return
        self.later(SAFETY_REQUEUE)

    def running(self) -> None:
        if self._suspend_if_asked():
            return
        cluster = self.cluster_model
        if cluster is not None:
            self._copy_cluster_status()
            self._ensure_job_service(cluster)  # the owner's head Service, from Running on (as KubeRay)
        address, job_id = self.status.get("dashboardURL") or "", self.status.get("jobId") or ""
        self.track = (address, job_id)
        probe = self.world.probe
        if probe is not None:
            self._read_probe(probe)
            if self.state != RUNNING:
                return
        job_status = self.status.get("jobStatus") or ""
        finished_at, submitter_failed = self._submitter_outcome()
        if submitter_failed is not None:
            if job_status == "FAILED":
                self.move(FAILED, "AppFailed", _short(self.status.get("message") or submitter_failed))
            else:
                self.move(FAILED, "SubmissionFailed", submitter_failed)
            self.after_failure()
            return
        if job_status in RAY_TERMINAL:
            forced = self._terminal_for_too_long()
            if self.mode in (c.K8S_JOB_MODE, c.SIDECAR_MODE) and finished_at is None and not forced:
                self.later(SUBMITTER_GRACE.total_seconds())
                return  # the submitter is still printing the driver's logs
            if job_status == "FAILED":
                self.move(FAILED, "AppFailed", _short(self.status.get("message") or ""))
                self.after_failure()
            else:
                self.move(COMPLETE, None, self.status.get("message"))
                self.finished()
            return
        if finished_at is not None:
            waited = self.world.now - finished_at
            if waited > SUBMITTER_GRACE:
                self.status["jobStatus"] = "FAILED"
                self.move(
                    FAILED,
                    "JobDeploymentStatusTransitionGracePeriodExceeded",
                    f"The submitter finished at {iso(finished_at)} but the Ray job is still "
                    f"{job_status or 'unknown'} after {int(SUBMITTER_GRACE.total_seconds())} s",
                )
                self.after_failure()
                return
            self.later((SUBMITTER_GRACE - waited).total_seconds())
        if probe is not None and probe.info is None and probe.error is None and self.mode == c.HTTP_MODE:
            self.submit = build.http_submission(self.job, job_id)
        self.later(SAFETY_REQUEUE)

    def _read_probe(self, probe: Probe) -> None:
        if probe.error is not None and probe.failing_since is not None:
            self.status["jobStatusCheckFailureStartTime"] = iso(probe.failing_since)
            timeout = self.config.rayjob_status_check_timeout_seconds
            failing = (self.world.now - probe.failing_since).total_seconds()
            if failing >= timeout:
                self.move(
                    FAILED,
                    "JobStatusCheckTimeoutExceeded",
                    f"The Ray dashboard could not be reached for {int(failing)} s: {probe.error}",
                )
                self.after_failure()
                return
            self.later(timeout - failing)
        else:
            self.status.pop("jobStatusCheckFailureStartTime", None)
        info = probe.info
        if info is None:
            return
        if info.get("status"):
            self.status["jobStatus"] = info["status"]
        else:
            self.status.pop("jobStatus", None)
        if info.get("message"):
            self.status["message"] = _short(str(info["message"]))
        times = {"startTime": _from_ms(info.get("start_time")), "endTime": _from_ms(info.get("end_time"))}
        self.status["rayJobInfo"] = {k: v for k, v in times.items() if v}

    def _terminal_for_too_long(self) -> bool:
        end = parse((self.status.get("rayJobInfo") or {}).get("endTime"))
        grace = self.config.rayjob_deployment_status_transition_grace_period_seconds
        return end is not None and (self.world.now - end).total_seconds() > grace

    def _submitter_outcome(self) -> tuple[datetime.datetime | None, str | None]:
        """(when the submitter finished, why it failed) for K8sJobMode and SidecarMode."""
        if self.mode == c.K8S_JOB_MODE:
            submitter = self.world.submitter
            if submitter is None:
                return None, None
            for condition in (submitter.get("status") or {}).get("conditions") or []:
                if condition.get("status") != "True":
                    continue
                at = parse(condition.get("lastTransitionTime")) or self.world.now
                if condition.get("type") == "Failed":
                    why = condition.get("message") or condition.get("reason") or "the submitter Job failed"
                    return at, f"The submitter Job {self.name} failed: {why}"
                if condition.get("type") == "Complete":
                    return at, None
            return None, None
        if self.mode == c.SIDECAR_MODE:
            head = next((p for p in self.world.cluster_pods if podstate.node_type(p) == c.HEAD_NODE), None)
            if head is None:
                return self.world.now, "The head Pod (which runs the submitter) is gone"
            for container in (head.get("status") or {}).get("containerStatuses") or []:
                if container.get("name") != build.SUBMITTER_CONTAINER:
                    continue
                done = (container.get("state") or {}).get("terminated")
                if done:
                    at = parse(done.get("finishedAt")) or self.world.now
                    code = done.get("exitCode")
                    if code != 0:
                        return at, f"The submitter container exited with code {code}"
                    return at, None
        return None, None

    def after_failure(self) -> None:
        """Failed: retry on a new cluster while the backoffLimit allows (not after a deadline)."""
        reason = self.status.get("reason")
        retries = self.job.spec.backoff_limit or 0
        if (
            reason not in ("DeadlineExceeded", "JobStatusCheckTimeoutExceeded", "PreRunningDeadlineExceeded")
            and int(self.status.get("failed") or 0) <= retries
        ):
            self.move(RETRYING)
            self.retrying()
            return
        self.finished()

    def _delete_children(self) -> bool:
        """Delete the cluster (never a selected one) and the submitter; True once both are gone."""
        gone = True
        if self.world.cluster is not None and not self.selector_cluster:
            self.step.deletes.append(Delete("RayCluster", self.namespace, self.status["rayClusterName"]))
            self.event("Normal", "DeletedRayCluster", f"Deleted RayCluster {self.status['rayClusterName']}")
            gone = False
        if self.world.submitter is not None:
            self.step.deletes.append(Delete("Job", self.namespace, self.name))
            self.event("Normal", "DeletedRayJobSubmitter", f"Deleted Kubernetes Job {self.name}")
            gone = False
        return gone

    def _reset(self) -> None:
        keep = ("succeeded", "failed", "observedGeneration", "jobDeploymentStatus", "reason", "message")
        for key in [k for k in self.status if k not in keep]:
            del self.status[key]

    def retrying(self) -> None:
        if not self._delete_children():
            self.later(2)
            return
        self._reset()
        self.move(NEW)
        self.new()

    def suspending(self) -> None:
        # Atomic: it completes even if `suspend` is turned off meanwhile.
        if not self._delete_children():
            self.later(2)
            return
        self._reset()
        for key in ("reason", "message"):
            self.status.pop(key, None)
        self.move(SUSPENDED)

    def suspended(self) -> None:
        if not self.job.spec.suspend:
            self.move(NEW)
            self.new()

    # -- after the end -------------------------------------------------------------------------------
    def finished(self) -> None:
        end = parse(self.status.get("endTime")) or self.world.now
        if self.selector_cluster:
            return
        strategy = self.job.spec.deletion_strategy
        if strategy is not None and strategy.deletion_rules:
            self._deletion_rules(end)
        elif strategy is not None and (strategy.on_success or strategy.on_failure):
            chosen = strategy.on_success if self.state == COMPLETE else strategy.on_failure
            if chosen is not None and chosen.policy:
                self._apply_after(chosen.policy, end, self.job.spec.ttl_seconds_after_finished or 0)
        elif self.job.spec.shutdown_after_job_finishes:
            policy = "DeleteSelf" if self.config.delete_rayjob_cr_after_job_finishes else "DeleteCluster"
            self._apply_after(policy, end, self.job.spec.ttl_seconds_after_finished or 0)

    def _deletion_rules(self, end: datetime.datetime) -> None:
        due: list[str] = []
        for rule in (
            (self.job.spec.deletion_strategy.deletion_rules or []) if self.job.spec.deletion_strategy else []
        ):
            condition = rule.condition
            matches = (
                condition.job_status is not None and condition.job_status == self.status.get("jobStatus")
            ) or (
                condition.job_deployment_status is not None and condition.job_deployment_status == self.state
            )
            if not matches:
                continue
            at = end + datetime.timedelta(seconds=condition.ttl_seconds or 0)
            if at <= self.world.now:
                due.append(rule.policy)
            else:
                self.later((at - self.world.now).total_seconds())
        if due:
            self._apply(max(due, key=lambda p: POLICY_RANK[p]))

    def _apply_after(self, policy: str, end: datetime.datetime, ttl: int) -> None:
        at = end + datetime.timedelta(seconds=ttl)
        if at > self.world.now:
            self.later((at - self.world.now).total_seconds())
            return
        self._apply(policy)

    def _apply(self, policy: str) -> None:
        cluster = self.world.cluster
        if policy == "DeleteSelf":
            self.step.delete_owner = True
        elif (
            policy == "DeleteCluster"
            and cluster is not None
            and not cluster["metadata"].get("deletionTimestamp")
        ):
            self.step.deletes.append(Delete("RayCluster", self.namespace, self.status["rayClusterName"]))
            self.event("Normal", "DeletedRayCluster", f"Deleted RayCluster {self.status['rayClusterName']}")
        elif policy == "DeleteWorkers" and cluster is not None:
            groups = (cluster.get("spec") or {}).get("workerGroupSpecs") or []
            if any(not g.get("suspend") for g in groups):
                # Every worker group suspended (the one spec field KubeRay itself writes); the
                # resourceVersion makes a concurrent change (the autoscaler's) a conflict, not a loss.
                patch = {
                    "metadata": {"resourceVersion": cluster["metadata"].get("resourceVersion")},
                    "spec": {"workerGroupSpecs": [{**g, "suspend": True} for g in groups]},
                }
                self.step.patches.append(
                    Patch("RayCluster", self.namespace, self.status["rayClusterName"], patch)
                )
                self.event(
                    "Normal",
                    "UpdatedRayCluster",
                    f"Suspended the worker groups of {self.status['rayClusterName']}",
                )

    # -- children ------------------------------------------------------------------------------------
    def _copy_cluster_status(self) -> None:
        assert self.world.cluster is not None
        cluster_status = self.world.cluster.get("status")
        if cluster_status:
            self.status["rayClusterStatus"] = cluster_status

    def _ensure_job_service(self, cluster: RayCluster) -> None:
        desired = build.build_job_head_service(self.job, cluster, self.config)
        current = self.world.job_service
        service = desired["metadata"]["name"]
        if current is None:
            self.step.creates.append(
                Create(desired, "CreatedService", if_exists=TAKE_OVER, note="Created the service {}")
            )
        elif (current.get("spec") or {}).get("selector") != desired["spec"]["selector"]:
            patch = {
                "metadata": {"labels": {c.RAY_CLUSTER_LABEL: self.status["rayClusterName"]}},
                "spec": {"selector": desired["spec"]["selector"]},
            }
            self.step.patches.append(
                Patch("Service", self.namespace, service, patch, "UpdatedService", "Updated the service {}")
            )


def cluster_problem(pods: list[dict[str, Any]]) -> str:
    """Why a cluster is not ready, from its Pods: unschedulable, image or crash loops, failed containers."""
    problems = []
    for pod in sorted(pods, key=lambda p: podstate.node_type(p) != c.HEAD_NODE):
        name = podstate.name(pod)
        status = pod.get("status") or {}
        for condition in status.get("conditions") or []:
            if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
                problems.append(
                    f"Pod {name} is {condition.get('reason') or 'unschedulable'}: {condition.get('message', '')}".rstrip(
                        ": "
                    )
                )
        for container in status.get("containerStatuses") or []:
            state = container.get("state") or {}
            waiting, done = state.get("waiting") or {}, state.get("terminated") or {}
            if waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
                problems.append(
                    f"container {container.get('name')} of Pod {name}: {waiting['reason']} {waiting.get('message', '')}".rstrip()
                )
            elif done and done.get("exitCode") not in (None, 0):
                problems.append(
                    f"container {container.get('name')} of Pod {name} exited with code {done['exitCode']}"
                )
            elif container.get("restartCount", 0) >= 3:
                problems.append(
                    f"container {container.get('name')} of Pod {name} restarted {container['restartCount']} times"
                )
        if status.get("phase") == "Failed":
            problems.append(
                f"Pod {name} failed: {status.get('reason', '')} {status.get('message', '')}".rstrip()
            )
    return "; ".join(problems[:3])


def plan_rayjob(
    job: RayJob,
    raw: dict[str, Any],
    world: World,
    config: OperatorConfig,
    *,
    suffix: Callable[[], str] = random_suffix,
) -> Actions:
    """The next status and actions for a valid RayJob that is not being deleted."""
    return _Machine(job, raw, world, config, suffix).run()


def validation_failed(raw: dict[str, Any], message: str, generation: int | None) -> RayJobStatus:
    status = dict(raw.get("status") or {})
    status.update(
        {
            "jobDeploymentStatus": VALIDATION_FAILED,
            "reason": "ValidationFailed",
            "message": message,
            "observedGeneration": generation,
        }
    )
    return RayJobStatus.model_validate(status)
