"""The RayJob state machine, transition by transition (≙ KubeRay's rayjob_controller tests)."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest

from raykopf.api.rayjob import RayJob, RayJobStatus
from raykopf.config import OperatorConfig
from raykopf.reconcile.actions import Actions
from raykopf.reconcile.rayjob import FINALIZER, Probe, World, cluster_problem, plan_rayjob, poll_of

NOW = datetime.datetime(2026, 11, 26, 12, 0, 0, tzinfo=datetime.UTC)
CONFIG = OperatorConfig()
CLUSTER_SPEC = {
    "rayVersion": "2.60.0",
    "headGroupSpec": {
        "rayStartParams": {},
        "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.60.0"}]}},
    },
}


def iso(seconds_ago: float) -> str:
    return (NOW - datetime.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def rayjob(status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {
            "name": "job",
            "namespace": "ns",
            "uid": "u-1",
            "generation": 1,
            "finalizers": [FINALIZER],
            "labels": {"team": "a"},
        },
        "spec": {"entrypoint": "python run.py", "rayClusterSpec": copy.deepcopy(CLUSTER_SPEC), **spec},
    }
    if status is not None:
        body["status"] = status
    return body


def cluster(state: str | None = "ready", name: str = "job-abcde", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, "namespace": "ns", "uid": "c-1", "resourceVersion": "5"},
        "spec": copy.deepcopy(CLUSTER_SPEC),
        **extra,
    }
    if state:
        body["status"] = {"state": state}
    return body


RUNNING = {
    "jobDeploymentStatus": "Running",
    "jobId": "job-xyz12",
    "rayClusterName": "job-abcde",
    "dashboardURL": "job-abcde-head-svc.ns.svc.cluster.local:8265",
    "startTime": iso(60),
    "jobStatus": "RUNNING",
}
SERVICE = {"metadata": {"name": "job-head-svc"}, "spec": {"selector": {"ray.io/cluster": "job-abcde"}}}


def bodies(actions: Actions) -> list[dict[str, Any]]:
    return [create.body for create in actions.creates]


def deleted(actions: Actions) -> list[tuple[str, str]]:
    return [(delete.kind, delete.name) for delete in actions.deletes]


def tracked(actions: Actions) -> tuple[str, str] | None:
    poll = poll_of(actions)
    return None if poll is None else (poll.address, poll.job_id)


def submitted(actions: Actions) -> dict[str, Any] | None:
    poll = poll_of(actions)
    return None if poll is None else poll.submit


def plan(raw: dict[str, Any], **world: Any) -> Actions:
    world.setdefault("cluster", None)
    suffixes = iter(["xyz12", "abcde", "fghij", "klmno"])
    actions = plan_rayjob(
        RayJob.model_validate(raw), raw, World(now=NOW, **world), CONFIG, suffix=lambda: next(suffixes)
    )
    return wire(actions)


def wire(actions: Actions) -> Actions:
    """`actions` with its status as it goes to the apiserver (the planner returns the typed model)."""
    assert isinstance(actions.status, RayJobStatus), actions.status
    actions.status = actions.status.to_dict()  # type: ignore[assignment]
    return actions


def job_info(status: str, message: str = "", end: bool = False) -> dict[str, Any]:
    info = {"status": status, "message": message, "start_time": 1795000000000}
    if end:
        info["end_time"] = int((NOW - datetime.timedelta(seconds=5)).timestamp() * 1000)
    return info


def test_new_stores_ids_and_start_time_before_anything_is_created() -> None:
    """KubeRay's JobDeploymentStatusNew: the names go into the status before anything is made with
    them (`status_first`), so a create whose status write failed is never made again under other names."""
    raw = rayjob()
    raw["metadata"]["finalizers"] = []
    step = plan(raw)
    assert step.add_finalizer == FINALIZER
    assert step.status["jobDeploymentStatus"] == "Initializing"
    assert step.status["jobId"] == "job-xyz12"
    assert step.status["rayClusterName"] == "job-abcde"
    assert step.status["startTime"] == iso(0)
    assert step.status_first
    assert [b["metadata"]["name"] for b in bodies(step)] == ["job-abcde"]
    assert [e.reason for e in step.events] == ["Initializing"]


def test_initializing_creates_the_cluster_named_in_the_status_with_rayjob_labels() -> None:
    first = plan(rayjob())
    step = plan(rayjob(first.status))
    assert step.status == first.status
    assert not step.status_first  # the names are stored already
    [created] = bodies(step)
    assert created["kind"] == "RayCluster"
    assert created["metadata"]["name"] == "job-abcde"
    assert created["metadata"]["labels"] == {
        "team": "a",
        "ray.io/originated-from-cr-name": "job",
        "ray.io/originated-from-crd": "RayJob",
        "ray.io/job-submission-mode": "K8sJobMode",
    }
    assert created["metadata"]["ownerReferences"][0]["kind"] == "RayJob"
    assert created["spec"] == CLUSTER_SPEC  # the user's spec, untouched
    assert [c.reason for c in step.creates] == ["CreatedRayCluster"]  # said once it is made
    # Its status write failed: the pass after finds the same names, and the cluster by that name.
    again = plan(rayjob(first.status), cluster=cluster(None, name="job-abcde"))
    assert bodies(again) == []
    assert again.status["rayClusterName"] == "job-abcde"


def test_user_job_id_is_kept_and_interactive_mode_leaves_it_empty() -> None:
    assert plan(rayjob(jobId="mine")).status["jobId"] == "mine"
    assert plan(rayjob(submissionMode="InteractiveMode")).status["jobId"] == ""


def test_initializing_waits_for_a_ready_cluster_and_says_why_it_is_not() -> None:
    status = {**RUNNING, "jobDeploymentStatus": "Initializing", "jobStatus": ""}
    status.pop("dashboardURL")
    pod = {
        "metadata": {"name": "job-abcde-head-x", "labels": {"ray.io/node-type": "head"}},
        "status": {
            "phase": "Pending",
            "containerStatuses": [{"name": "ray-head", "state": {"waiting": {"reason": "ImagePullBackOff"}}}],
        },
    }
    step = plan(
        rayjob(status), cluster=cluster("", name="job-abcde"), cluster_pods=[pod], job_service=SERVICE
    )
    assert step.status["jobDeploymentStatus"] == "Initializing"
    assert "ImagePullBackOff" in step.status["message"]
    assert [(e.type, e.reason) for e in step.events] == [("Warning", "RayClusterNotReady")]
    assert not bodies(step)
    # The owner's head Service comes with Running, as in KubeRay, not while the cluster starts.
    without_service = plan(rayjob(status), cluster=cluster("", name="job-abcde"), cluster_pods=[pod])
    assert not bodies(without_service)
    assert "jobStatus" not in plan(rayjob()).status  # KubeRay's JobStatusNew "" is omitted


def test_ready_cluster_in_k8s_job_mode_creates_the_submitter_and_runs() -> None:
    status = {**RUNNING, "jobDeploymentStatus": "Initializing", "jobStatus": ""}
    status.pop("dashboardURL")
    step = plan(rayjob(status), cluster=cluster())
    assert step.status["jobDeploymentStatus"] == "Running"
    assert step.status["dashboardURL"] == "job-abcde-head-svc.ns.svc.cluster.local:8265"
    kinds = {b["kind"]: b for b in bodies(step)}
    service, submitter = kinds["Service"], kinds["Job"]
    assert service["metadata"]["name"] == "job-head-svc"
    assert service["spec"]["selector"]["ray.io/cluster"] == "job-abcde"
    assert submitter["metadata"]["name"] == "job"
    assert submitter["spec"]["backoffLimit"] == 2
    container = submitter["spec"]["template"]["spec"]["containers"][0]
    assert container["name"] == "ray-job-submitter"
    assert container["image"] == "rayproject/ray:2.60.0"
    script = container["args"][0]
    assert "ray job status --address http://job-abcde-head-svc.ns.svc.cluster.local:8265 job-xyz12" in script
    assert "--submission-id job-xyz12 -- python run.py" in script
    assert (
        "ray job logs --address http://job-abcde-head-svc.ns.svc.cluster.local:8265 --follow job-xyz12"
        in script
    )
    assert {"name": "RAY_JOB_SUBMISSION_ID", "value": "job-xyz12"} in container["env"]
    assert tracked(step) == (step.status["dashboardURL"], "job-xyz12")


@pytest.mark.parametrize("mode", ["HTTPMode", "SidecarMode"])
def test_http_and_sidecar_modes_run_without_a_submitter_job(mode: str) -> None:
    status = {**RUNNING, "jobDeploymentStatus": "Initializing", "jobStatus": ""}
    head = {"metadata": {"name": "h", "labels": {"ray.io/node-type": "head"}}, "status": {"phase": "Running"}}
    step = plan(
        rayjob(status, submissionMode=mode), cluster=cluster(), job_service=SERVICE, cluster_pods=[head]
    )
    assert step.status["jobDeploymentStatus"] == "Running"
    assert not bodies(step)


def test_http_mode_posts_the_job_when_ray_does_not_know_it() -> None:
    raw = rayjob(
        RUNNING, submissionMode="HTTPMode", runtimeEnvYAML="env_vars:\n  A: b\n", metadata={"k": "v"}
    )
    step = plan(raw, cluster=cluster(), job_service=SERVICE, probe=Probe(None))
    assert submitted(step) == {
        "entrypoint": "python run.py",
        "submission_id": "job-xyz12",
        "runtime_env": {"env_vars": {"A": "b"}},
        "metadata": {"k": "v"},
    }
    running = plan(raw, cluster=cluster(), job_service=SERVICE, probe=Probe(job_info("RUNNING")))
    assert submitted(running) is None


def test_sidecar_mode_cluster_has_the_submitter_and_a_head_that_never_restarts() -> None:
    named = plan(rayjob(submissionMode="SidecarMode")).status
    step = plan(rayjob(named, submissionMode="SidecarMode"))
    [created] = bodies(step)
    head = created["spec"]["headGroupSpec"]["template"]["spec"]
    assert head["restartPolicy"] == "Never"
    assert head["containers"][1]["name"] == "ray-job-submitter"
    assert "http://127.0.0.1:8265" in head["containers"][1]["args"][0]
    assert "ray job status" not in head["containers"][1]["args"][0]
    assert created["metadata"]["annotations"]["ray.io/disable-provisioned-head-restart"] == "true"


def test_interactive_mode_waits_for_the_user_job_id() -> None:
    status = {**RUNNING, "jobDeploymentStatus": "Waiting", "jobId": "", "jobStatus": ""}
    waiting = plan(rayjob(status, submissionMode="InteractiveMode"), cluster=cluster(), job_service=SERVICE)
    assert waiting.status["jobDeploymentStatus"] == "Waiting"
    given = plan(
        rayjob(status, submissionMode="InteractiveMode", jobId="u-1"), cluster=cluster(), job_service=SERVICE
    )
    assert given.status["jobDeploymentStatus"] == "Running"
    assert given.status["jobId"] == "u-1"


def submitter(condition: str, seconds_ago: float, message: str = "") -> dict[str, Any]:
    return {
        "metadata": {"name": "job"},
        "status": {
            "conditions": [
                {
                    "type": condition,
                    "status": "True",
                    "lastTransitionTime": iso(seconds_ago),
                    "message": message,
                }
            ]
        },
    }


def test_running_mirrors_ray_and_completes_only_after_the_submitter_finished() -> None:
    raw = rayjob(RUNNING)
    world = {"cluster": cluster(), "job_service": SERVICE}
    still_printing = plan(
        raw, probe=Probe(job_info("SUCCEEDED", "Job finished successfully.", end=True)), **world
    )
    assert still_printing.status["jobDeploymentStatus"] == "Running"
    assert still_printing.status["jobStatus"] == "SUCCEEDED"
    assert still_printing.status["rayJobInfo"]["startTime"] == "2026-11-18T11:06:40Z"
    done = plan(
        raw,
        probe=Probe(job_info("SUCCEEDED", "Job finished successfully.", end=True)),
        submitter=submitter("Complete", 1),
        **world,
    )
    assert done.status["jobDeploymentStatus"] == "Complete"
    assert done.status["endTime"] == iso(0)
    assert done.status["succeeded"] == 1
    assert done.status["message"] == "Job finished successfully."


def test_failed_driver_fails_with_rays_message() -> None:
    message = "Job entrypoint command failed with exit code 1, last available logs:\nValueError: boom"
    step = plan(
        rayjob(RUNNING),
        cluster=cluster(),
        job_service=SERVICE,
        probe=Probe(job_info("FAILED", message, end=True)),
        submitter=submitter("Complete", 1),
    )
    assert step.status["jobDeploymentStatus"] == "Failed"
    assert step.status["reason"] == "AppFailed"
    assert step.status["message"].endswith("ValueError: boom")
    assert step.status["failed"] == 1


def test_submitter_failure_and_grace_period() -> None:
    world = {"cluster": cluster(), "job_service": SERVICE}
    failed = plan(rayjob(RUNNING), submitter=submitter("Failed", 1, "BackoffLimitExceeded"), **world)
    assert (failed.status["jobDeploymentStatus"], failed.status["reason"]) == ("Failed", "SubmissionFailed")
    in_grace = plan(
        rayjob(RUNNING), probe=Probe(job_info("RUNNING")), submitter=submitter("Complete", 10), **world
    )
    assert in_grace.status["jobDeploymentStatus"] == "Running"
    assert in_grace.requeue_after == pytest.approx(20)
    late = plan(
        rayjob(RUNNING), probe=Probe(job_info("RUNNING")), submitter=submitter("Complete", 31), **world
    )
    assert late.status["reason"] == "JobDeploymentStatusTransitionGracePeriodExceeded"
    assert late.status["jobStatus"] == "FAILED"


def test_sidecar_exit_code_decides() -> None:
    def head(code: int) -> dict[str, Any]:
        state = {"terminated": {"exitCode": code, "finishedAt": iso(1)}}
        return {
            "metadata": {"name": "h", "labels": {"ray.io/node-type": "head"}},
            "status": {"containerStatuses": [{"name": "ray-job-submitter", "state": state}]},
        }

    raw = rayjob(RUNNING, submissionMode="SidecarMode")
    world = {"cluster": cluster(), "job_service": SERVICE, "probe": Probe(job_info("SUCCEEDED", end=True))}
    assert plan(raw, cluster_pods=[head(0)], **world).status["jobDeploymentStatus"] == "Complete"
    failed = plan(raw, cluster_pods=[head(2)], **world)
    assert failed.status["reason"] == "SubmissionFailed"
    assert plan(raw, cluster_pods=[], **world).status["reason"] == "SubmissionFailed"


def test_deadlines() -> None:
    active = plan(rayjob({**RUNNING, "startTime": iso(11)}, activeDeadlineSeconds=10), cluster=cluster())
    assert (active.status["jobDeploymentStatus"], active.status["reason"]) == ("Failed", "DeadlineExceeded")
    status = {**RUNNING, "jobDeploymentStatus": "Initializing", "startTime": iso(6)}
    pre = plan(rayjob(status, preRunningDeadlineSeconds=5), cluster=cluster(""))
    assert pre.status["reason"] == "PreRunningDeadlineExceeded"
    ticking = plan(
        rayjob({**RUNNING, "startTime": iso(4)}, activeDeadlineSeconds=10),
        cluster=cluster(),
        job_service=SERVICE,
    )
    assert ticking.requeue_after == pytest.approx(6)


def test_status_check_timeout() -> None:
    since = NOW - datetime.timedelta(seconds=301)
    step = plan(rayjob(RUNNING), cluster=cluster(), job_service=SERVICE, probe=Probe(None, "refused", since))
    assert step.status["reason"] == "JobStatusCheckTimeoutExceeded"
    recent = plan(rayjob(RUNNING), cluster=cluster(), job_service=SERVICE, probe=Probe(None, "refused", NOW))
    assert recent.status["jobStatusCheckFailureStartTime"] == iso(0)
    assert recent.status["jobDeploymentStatus"] == "Running"


def test_backoff_limit_retries_on_a_new_cluster_with_a_new_job_id() -> None:
    message = "Job entrypoint command failed with exit code 1"
    step = plan(
        rayjob(RUNNING, backoffLimit=1),
        cluster=cluster(),
        job_service=SERVICE,
        probe=Probe(job_info("FAILED", message, end=True)),
        submitter=submitter("Complete", 1),
    )
    assert step.status["jobDeploymentStatus"] == "Retrying"
    assert ("RayCluster", "job-abcde") in deleted(step)
    assert ("Job", "job") in deleted(step)
    # Once the old cluster and submitter are gone: a new attempt.
    retry = plan(rayjob(step.status, backoffLimit=1))
    assert retry.status["jobDeploymentStatus"] == "Initializing"
    assert retry.status["failed"] == 1
    assert retry.status["rayClusterName"] == "job-abcde"
    assert retry.status["jobId"] == "job-xyz12"
    # The second failure is final.
    second = plan(
        rayjob({**RUNNING, "failed": 1}, backoffLimit=1),
        cluster=cluster(),
        job_service=SERVICE,
        probe=Probe(job_info("FAILED", message, end=True)),
        submitter=submitter("Complete", 1),
    )
    assert second.status["jobDeploymentStatus"] == "Failed"
    assert second.status["failed"] == 2


def test_suspend_is_atomic_and_resume_starts_again() -> None:
    suspending = plan(
        rayjob(RUNNING, suspend=True, shutdownAfterJobFinishes=True),
        cluster=cluster(),
        submitter=submitter("Complete", 1),
    )
    assert suspending.status["jobDeploymentStatus"] == "Suspending"
    assert {k for k, _ in deleted(suspending)} == {"RayCluster", "Job"}
    # Flipping suspend back does not stop the suspension half-way.
    still = plan(rayjob(suspending.status, shutdownAfterJobFinishes=True), cluster=cluster())
    assert still.status["jobDeploymentStatus"] == "Suspending"
    suspended = plan(rayjob(suspending.status, suspend=True, shutdownAfterJobFinishes=True))
    assert suspended.status["jobDeploymentStatus"] == "Suspended"
    assert "jobStatus" not in suspended.status  # KubeRay writes JobStatusNew (""), which omitempty drops
    assert "rayClusterName" not in suspended.status
    resumed = plan(rayjob(suspended.status, shutdownAfterJobFinishes=True))
    assert resumed.status["jobDeploymentStatus"] == "Initializing"
    # Through New (KubeRay's ""), which is no event: an Event must have a reason.
    assert [e.reason for e in resumed.events] == ["Initializing"]
    assert resumed.status_first  # the new names are stored before the cluster is made
    assert bodies(resumed)[0]["kind"] == "RayCluster"
    assert bodies(plan(rayjob(resumed.status, shutdownAfterJobFinishes=True)))[0]["kind"] == "RayCluster"


def test_shutdown_after_finish_waits_for_the_ttl() -> None:
    done = {**RUNNING, "jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED", "endTime": iso(20)}
    early = plan(rayjob(done, shutdownAfterJobFinishes=True, ttlSecondsAfterFinished=30), cluster=cluster())
    assert not deleted(early)
    assert early.requeue_after == pytest.approx(10)
    due = plan(rayjob(done, shutdownAfterJobFinishes=True, ttlSecondsAfterFinished=10), cluster=cluster())
    assert deleted(due) == [("RayCluster", "job-abcde")]
    selected = plan(
        rayjob(done, shutdownAfterJobFinishes=True, clusterSelector={"ray.io/cluster": "job-abcde"}),
        cluster=cluster(),
    )
    assert not deleted(selected)


def test_deletion_rules_most_destructive_due_rule_wins() -> None:
    done = {**RUNNING, "jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED", "endTime": iso(20)}
    rules = [
        {"policy": "DeleteWorkers", "condition": {"jobStatus": "SUCCEEDED", "ttlSeconds": 0}},
        {"policy": "DeleteCluster", "condition": {"jobStatus": "SUCCEEDED", "ttlSeconds": 10}},
        {"policy": "DeleteSelf", "condition": {"jobStatus": "SUCCEEDED", "ttlSeconds": 60}},
        {"policy": "DeleteSelf", "condition": {"jobStatus": "FAILED", "ttlSeconds": 0}},
    ]
    step = plan(rayjob(done, deletionStrategy={"deletionRules": rules}), cluster=cluster())
    assert deleted(step) == [("RayCluster", "job-abcde")]
    assert not step.delete_owner
    assert step.requeue_after == pytest.approx(40)
    workers = plan(
        rayjob(done, deletionStrategy={"deletionRules": rules[:1]}), cluster=cluster(workerGroupSpecs=[])
    )
    assert workers.patches == []  # no worker group left to suspend


def test_cluster_selector_uses_the_existing_cluster() -> None:
    selector = {"ray.io/cluster": "shared"}
    named = plan(rayjob(clusterSelector=selector)).status
    step = plan(rayjob(named, clusterSelector=selector), cluster=cluster(name="shared"))
    assert step.status["rayClusterName"] == "shared"
    assert step.status["jobDeploymentStatus"] == "Running"
    assert all(b["kind"] != "RayCluster" for b in bodies(step))


def test_cluster_problem_names_unschedulable_pods() -> None:
    pod = {
        "metadata": {"name": "w", "labels": {"ray.io/node-type": "worker"}},
        "status": {
            "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes"}
            ]
        },
    }
    assert cluster_problem([pod]) == "Pod w is Unschedulable: 0/1 nodes"


def test_legacy_on_failure_policy_and_delete_rayjob_after_finish() -> None:
    failed = {**RUNNING, "jobDeploymentStatus": "Failed", "jobStatus": "FAILED", "endTime": iso(20)}
    legacy = {"onSuccess": {"policy": "DeleteNone"}, "onFailure": {"policy": "DeleteSelf"}}
    step = plan(rayjob(failed, deletionStrategy=legacy, ttlSecondsAfterFinished=10), cluster=cluster())
    assert step.delete_owner
    complete = {**failed, "jobDeploymentStatus": "Complete", "jobStatus": "SUCCEEDED"}
    assert not plan(rayjob(complete, deletionStrategy=legacy), cluster=cluster()).delete_owner
    config = OperatorConfig(delete_rayjob_cr_after_job_finishes=True)
    raw = rayjob(complete, shutdownAfterJobFinishes=True)
    own = wire(plan_rayjob(RayJob.model_validate(raw), raw, World(now=NOW, cluster=cluster()), config))
    assert own.delete_owner
    assert not deleted(own)


def test_user_submitter_template_keeps_its_command_and_gets_the_env() -> None:
    template = {
        "spec": {
            "containers": [
                {
                    "name": "mine",
                    "image": "me/submit",
                    "command": ["submit.sh"],
                    "env": [{"name": "A", "value": "1"}],
                }
            ]
        }
    }
    status = {**RUNNING, "jobDeploymentStatus": "Initializing", "jobStatus": ""}
    raw = rayjob(status, submitterPodTemplate=template, submitterConfig={"backoffLimit": 0})
    step = plan(raw, cluster=cluster(), job_service=SERVICE)
    [job] = [b for b in bodies(step) if b["kind"] == "Job"]
    assert job["spec"]["backoffLimit"] == 0
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["submit.sh"]
    assert "args" not in container
    assert [e["name"] for e in container["env"]] == [
        "A",
        "PYTHONUNBUFFERED",
        "RAY_DASHBOARD_ADDRESS",
        "RAY_JOB_SUBMISSION_ID",
    ]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["metadata"]["labels"]["app.kubernetes.io/created-by"] == "kuberay-operator"
