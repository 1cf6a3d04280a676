"""RayService decisions: clusters, Serve config, traffic, clean-up, status (≙ rayservice_controller tests)."""

from __future__ import annotations

import copy
import datetime
import json
from typing import Any

import yaml

from raykopf.api.rayservice import RayService
from raykopf.config import OperatorConfig
from raykopf.reconcile.hashing import rayservice_hash
from raykopf.reconcile.plan import MIN_REQUEUE_SECONDS
from raykopf.reconcile.rayservice import (
    FINALIZER,
    SETTLE_SECONDS,
    ServeProbe,
    ServiceStep,
    ServiceWorld,
    plan_deletion,
    plan_rayservice,
    serving_pods,
    validation_failed,
)

NOW = datetime.datetime(2026, 11, 26, 12, 0, 0, tzinfo=datetime.UTC)
CONFIG = OperatorConfig()
SERVE = {"applications": [{"name": "hello", "import_path": "hello_app:app"}]}
CLUSTER_SPEC = {
    "rayVersion": "2.60.0",
    "headGroupSpec": {
        "rayStartParams": {},
        "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.60.0"}]}},
    },
    "workerGroupSpecs": [
        {
            "groupName": "g",
            "replicas": 1,
            "rayStartParams": {},
            "template": {"spec": {"containers": [{"name": "w"}]}},
        }
    ],
}
RUNNING_APPS = {"hello": {"status": "RUNNING", "deployments": {"Hello": {"status": "HEALTHY"}}}}


def rayservice(
    status: dict[str, Any] | None = None, spec: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {
            "name": "svc",
            "namespace": "ns",
            "uid": "u-1",
            "generation": 2,
            "finalizers": [FINALIZER],
        },
        "spec": {
            "serveConfigV2": yaml.safe_dump(SERVE),
            "rayClusterConfig": copy.deepcopy(spec or CLUSTER_SPEC),
            **extra,
        },
    }
    if status is not None:
        body["status"] = status
    return body


def cluster(name: str, spec: dict[str, Any] | None = None, head_ready: bool = True) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "annotations": {
                "ray.io/hash-without-replicas-and-workers-to-delete": rayservice_hash(spec or CLUSTER_SPEC),
                "ray.io/kuberay-version": "raykopf-v0.1.0",
            },
        },
        "spec": copy.deepcopy(spec or CLUSTER_SPEC),
        "status": {
            "state": "ready",
            "conditions": [
                {
                    "type": "HeadPodReady",
                    "status": "True" if head_ready else "False",
                    "reason": "HeadPodRunningAndReady",
                    "message": "",
                    "lastTransitionTime": "2026-11-26T11:00:00Z",
                }
            ],
        },
    }


def served(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"selector": {"ray.io/cluster": name, "ray.io/serve": "true"}},
    }


SUBMITTED = json.dumps(SERVE, sort_keys=True)


def plan(raw: dict[str, Any], **world: Any) -> ServiceStep:
    world.setdefault("clusters", {})
    suffixes = iter(["aaaaa", "bbbbb", "ccccc"])
    return plan_rayservice(
        RayService.model_validate(raw),
        raw,
        ServiceWorld(now=NOW, **world),
        CONFIG,
        suffix=lambda: next(suffixes),
    )


def active(name: str) -> dict[str, Any]:
    return {"activeServiceStatus": {"rayClusterName": name}}


def test_a_new_rayservice_creates_its_first_cluster_as_pending() -> None:
    raw = rayservice()
    raw["metadata"]["finalizers"] = []
    named = plan(raw)
    assert named.add_finalizer
    assert named.status["pendingServiceStatus"]["rayClusterName"] == "svc-aaaaa"
    assert named.create == []  # the name is stored first (KubeRay's markRestartAndAddPendingClusterName)
    assert named.requeue_after == MIN_REQUEUE_SECONDS
    step = plan(rayservice(named.status))
    assert step.status["pendingServiceStatus"]["rayClusterName"] == "svc-aaaaa"
    [created] = step.create
    meta = created["metadata"]
    assert meta["labels"] == {
        "ray.io/originated-from-cr-name": "svc",
        "ray.io/originated-from-crd": "RayService",
    }
    assert meta["annotations"]["ray.io/hash-without-replicas-and-workers-to-delete"] == rayservice_hash(
        CLUSTER_SPEC
    )
    assert meta["annotations"]["ray.io/num-worker-groups"] == "1"
    assert meta["ownerReferences"][0]["kind"] == "RayService"
    assert created["spec"] == CLUSTER_SPEC
    ready = {c["type"]: (c["status"], c["reason"]) for c in step.status["conditions"]}
    # KubeRay's first conditions (calculateConditions), kept while no cluster is active.
    assert ready == {"Ready": ("False", "Initializing"), "UpgradeInProgress": ("False", "Initializing")}
    assert "numServeEndpoints" not in step.status


def test_serve_config_goes_to_a_cluster_only_once_its_head_is_ready() -> None:
    status = {"pendingServiceStatus": {"rayClusterName": "svc-aaaaa"}}
    waiting = plan(rayservice(status), clusters={"svc-aaaaa": cluster("svc-aaaaa", head_ready=False)})
    assert not waiting.put_config
    assert not waiting.poll
    asked = plan(
        rayservice(status), clusters={"svc-aaaaa": cluster("svc-aaaaa")}, serve={"svc-aaaaa": ServeProbe({})}
    )
    assert asked.poll == ["svc-aaaaa"]
    assert asked.put_config == {"svc-aaaaa": SERVE}
    assert asked.point_services_at is None  # no application runs yet


def test_running_apps_get_the_traffic_and_the_pending_cluster_is_promoted() -> None:
    status = {"pendingServiceStatus": {"rayClusterName": "svc-aaaaa"}}
    step = plan(
        rayservice(status),
        clusters={"svc-aaaaa": cluster("svc-aaaaa")},
        serve={"svc-aaaaa": ServeProbe(RUNNING_APPS, proxy_healthy=True)},
        submitted={"svc-aaaaa": SUBMITTED},
        head_pods={"svc-aaaaa": {"metadata": {"name": "head-1", "labels": {"ray.io/serve": "false"}}}},
        serving_pods={"svc-aaaaa": 1},
        settled_pods={"svc-aaaaa": 1},
    )
    assert step.point_services_at == "svc-aaaaa"
    assert step.status["activeServiceStatus"]["rayClusterName"] == "svc-aaaaa"
    assert "pendingServiceStatus" not in step.status
    assert step.status["activeServiceStatus"]["applicationStatuses"] == {
        "hello": {"status": "RUNNING", "serveDeploymentStatuses": {"Hello": {"status": "HEALTHY"}}}
    }
    assert step.serve_labels == {"head-1": "true"}
    ready = {c["type"]: (c["status"], c["reason"]) for c in step.status["conditions"]}
    assert ready["Ready"] == ("True", "NonZeroServeEndpoints")
    assert step.status["serviceStatus"] == "Running"
    assert step.status["numServeEndpoints"] == 1


def steady(**world: Any) -> dict[str, Any]:
    base = {
        "clusters": {"svc-aaaaa": cluster("svc-aaaaa")},
        "serve": {"svc-aaaaa": ServeProbe(RUNNING_APPS, proxy_healthy=True)},
        "submitted": {"svc-aaaaa": SUBMITTED},
        "head_service": served("svc-aaaaa"),
        "serve_service": served("svc-aaaaa"),
        "serving_pods": {"svc-aaaaa": 1},
        "settled_pods": {"svc-aaaaa": 1},
    }
    return {**base, **world}


def test_a_serve_config_change_is_applied_in_place() -> None:
    spec = {
        **rayservice()["spec"],
        "serveConfigV2": yaml.safe_dump({"applications": [{"name": "hello", "import_path": "other:app"}]}),
    }
    raw = rayservice(active("svc-aaaaa"))
    raw["spec"] = spec
    step = plan(raw, **steady())
    assert list(step.put_config) == ["svc-aaaaa"]
    assert not step.create
    assert "pendingServiceStatus" not in step.status


def test_steady_state_does_nothing_and_replica_changes_never_upgrade() -> None:
    assert not plan(rayservice(active("svc-aaaaa")), **steady()).put_config
    scaled = copy.deepcopy(CLUSTER_SPEC)
    scaled["workerGroupSpecs"][0]["replicas"] = 5
    step = plan(rayservice(active("svc-aaaaa"), spec=scaled), **steady())
    assert not step.create
    assert not step.put_config
    assert step.point_services_at is None


def test_a_cluster_config_change_is_a_blue_green_upgrade() -> None:
    changed = copy.deepcopy(CLUSTER_SPEC)
    changed["headGroupSpec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]
    started = plan(rayservice(active("svc-aaaaa"), spec=changed), **steady())
    # A fresh name (the suffix that would repeat the active cluster's name is skipped).
    assert started.status["pendingServiceStatus"]["rayClusterName"] == "svc-bbbbb"
    assert started.create == []  # stored first; made on the next pass
    made = plan(rayservice(started.status, spec=changed), **steady())
    assert [c["metadata"]["name"] for c in made.create] == ["svc-bbbbb"]
    # Its status write failed: the pass after finds the name and the cluster, and makes nothing.
    again = plan(
        rayservice(started.status, spec=changed),
        **{**steady(), "clusters": {**steady()["clusters"], "svc-bbbbb": cluster("svc-bbbbb", changed)}},
    )
    assert again.create == []
    assert again.status["pendingServiceStatus"]["rayClusterName"] == "svc-bbbbb"
    assert started.status["activeServiceStatus"]["rayClusterName"] == "svc-aaaaa"
    assert started.point_services_at is None  # traffic stays on the active cluster
    upgrading = {c["type"]: c["status"] for c in started.status["conditions"]}
    assert upgrading["UpgradeInProgress"] == "True"

    status = {**active("svc-aaaaa"), "pendingServiceStatus": {"rayClusterName": "svc-bbbbb"}}
    world = steady()
    world["clusters"] = {**world["clusters"], "svc-bbbbb": cluster("svc-bbbbb", changed)}
    world["submitted"] = {"svc-aaaaa": SUBMITTED, "svc-bbbbb": SUBMITTED}
    deploying = plan(
        rayservice(status, spec=changed),
        **{**world, "serve": {**world["serve"], "svc-bbbbb": ServeProbe({"hello": {"status": "DEPLOYING"}})}},
    )
    assert deploying.point_services_at is None
    assert not deploying.put_config  # the active cluster keeps what it serves
    no_endpoint_yet = plan(
        rayservice(status, spec=changed),
        **{**world, "serve": {**world["serve"], "svc-bbbbb": ServeProbe(RUNNING_APPS)}},
    )
    assert no_endpoint_yet.point_services_at is None  # nothing Ready behind the new selector yet
    world["serving_pods"] = {"svc-aaaaa": 1, "svc-bbbbb": 1}
    unsettled = plan(
        rayservice(status, spec=changed),
        **{**world, "serve": {**world["serve"], "svc-bbbbb": ServeProbe(RUNNING_APPS)}},
    )
    # Ready and labelled only just now: the Endpoints controller may not know yet. Look again shortly.
    assert unsettled.point_services_at is None
    assert unsettled.requeue_after is not None
    assert unsettled.requeue_after <= SETTLE_SECONDS
    world["settled_pods"] = {"svc-aaaaa": 1, "svc-bbbbb": 1}
    switched = plan(
        rayservice(status, spec=changed),
        **{**world, "serve": {**world["serve"], "svc-bbbbb": ServeProbe(RUNNING_APPS)}},
    )
    assert switched.point_services_at == "svc-bbbbb"
    assert switched.status["activeServiceStatus"]["rayClusterName"] == "svc-bbbbb"
    # The old cluster is deleted after rayClusterDeletionDelaySeconds (default 60).
    assert switched.deletion_due == {"svc-aaaaa": NOW + datetime.timedelta(seconds=60)}
    assert switched.requeue_after is not None
    after = plan(
        rayservice(active("svc-bbbbb"), spec=changed),
        clusters=world["clusters"],
        serve={"svc-bbbbb": ServeProbe(RUNNING_APPS)},
        submitted={"svc-bbbbb": SUBMITTED},
        serve_service=served("svc-bbbbb"),
        head_service=served("svc-bbbbb"),
        deletion_due={"svc-aaaaa": NOW - datetime.timedelta(seconds=1)},
    )
    assert after.delete == [("RayCluster", "svc-aaaaa")]


def test_upgrade_strategy_none_ignores_cluster_changes() -> None:
    changed = copy.deepcopy(CLUSTER_SPEC)
    changed["rayVersion"] = "2.61.0"
    step = plan(rayservice(active("svc-aaaaa"), spec=changed, upgradeStrategy={"type": "None"}), **steady())
    assert not step.create
    assert "pendingServiceStatus" not in step.status


def test_a_failed_deploy_is_reported_once() -> None:
    trace = "Deploying app 'hello' failed with exception:\nTraceback (most recent call last):\n  File x\nModuleNotFoundError: No module named 'nope'\n"
    failed = {"hello": {"status": "DEPLOY_FAILED", "message": trace}}
    world = steady(serve={"svc-aaaaa": ServeProbe(failed, proxy_healthy=True)})
    first = plan(rayservice(active("svc-aaaaa")), **world)
    assert [e.reason for e in first.events] == ["FailedToUpdateServeApplications"]
    assert (
        first.events[0].message
        == "svc-aaaaa/hello: DEPLOY_FAILED: ModuleNotFoundError: No module named 'nope'"
    )
    again = plan(rayservice(first.status), **world)
    assert not again.events


def test_excluded_head_is_never_labelled_for_serving() -> None:
    head = {"metadata": {"name": "head-1", "labels": {"ray.io/serve": "true"}}}
    step = plan(
        rayservice(active("svc-aaaaa"), excludeHeadPodFromServeSvc=True),
        **steady(head_pods={"svc-aaaaa": head}),
    )
    assert step.serve_labels == {"head-1": "false"}


def test_deletion_removes_every_cluster_before_the_finalizer() -> None:
    world = ServiceWorld(now=NOW, clusters={"svc-aaaaa": cluster("svc-aaaaa")})
    step = plan_deletion(world)
    assert step.delete == [("RayCluster", "svc-aaaaa")]
    assert not step.remove_finalizer
    assert plan_deletion(ServiceWorld(now=NOW, clusters={})).remove_finalizer


def conditions(step: ServiceStep) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in step.status["conditions"]}


def test_suspend_deletes_everything_atomically_and_resume_starts_over() -> None:
    world = steady()
    suspending = plan(rayservice(active("svc-aaaaa"), suspend=True), **world)
    assert set(suspending.delete) == {("RayCluster", "svc-aaaaa"), ("Service", "svc-aaaaa")}
    assert conditions(suspending)["Suspending"] == ("True", "SuspendInProgress")
    assert conditions(suspending)["Ready"] == ("False", "SuspendInProgress")
    # suspend turned off half-way: the suspension still completes.
    still = plan(rayservice(suspending.status), **world)
    assert conditions(still)["Suspending"] == ("True", "SuspendInProgress")
    done = plan(rayservice(suspending.status), clusters={})
    assert conditions(done)["Suspended"] == ("True", "SuspendComplete")
    assert "activeServiceStatus" not in done.status
    resumed = plan(rayservice(done.status))
    assert conditions(resumed)["Suspended"] == ("False", "RayServiceResumed")
    assert resumed.create == []
    assert [c["metadata"]["name"] for c in plan(rayservice(resumed.status)).create] == ["svc-aaaaa"]


def test_initializing_timeout_is_terminal() -> None:
    status = {
        "pendingServiceStatus": {"rayClusterName": "svc-aaaaa"},
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "reason": "Initializing",
                "message": "",
                "lastTransitionTime": "2026-11-26T11:55:00Z",
            }
        ],
    }
    raw = rayservice(status)
    raw["metadata"]["annotations"] = {"ray.io/initializing-timeout": "4m"}
    step = plan(raw, clusters={"svc-aaaaa": cluster("svc-aaaaa", head_ready=False)})
    assert conditions(step)["Ready"] == ("False", "InitializingTimeout")
    assert step.delete == [("RayCluster", "svc-aaaaa")]
    assert "pendingServiceStatus" not in step.status
    assert [e.reason for e in step.events] == ["RayServiceInitializingTimeout"]
    raw["metadata"]["annotations"] = {"ray.io/initializing-timeout": "10m"}
    waiting = plan(raw, clusters={"svc-aaaaa": cluster("svc-aaaaa", head_ready=False)})
    assert conditions(waiting)["Ready"] == ("False", "Initializing")
    assert waiting.requeue_after is not None
    assert waiting.requeue_after <= 300


def test_worker_groups_appended_at_the_end_update_the_cluster_in_place() -> None:
    extra = {
        "groupName": "more",
        "replicas": 2,
        "rayStartParams": {},
        "template": {"spec": {"containers": [{"name": "w"}]}},
    }
    grown = {**copy.deepcopy(CLUSTER_SPEC), "workerGroupSpecs": [*CLUSTER_SPEC["workerGroupSpecs"], extra]}
    running = cluster("svc-aaaaa")
    running["metadata"]["annotations"]["ray.io/num-worker-groups"] = "1"
    step = plan(rayservice(active("svc-aaaaa"), spec=grown), **steady(clusters={"svc-aaaaa": running}))
    assert step.append_groups == ("svc-aaaaa", [extra], rayservice_hash(grown))
    assert not step.create
    assert "pendingServiceStatus" not in step.status
    # Changing an existing group as well is an upgrade.
    grown["workerGroupSpecs"][0]["rayStartParams"] = {"num-cpus": "2"}
    upgrade = plan(rayservice(active("svc-aaaaa"), spec=grown), **steady(clusters={"svc-aaaaa": running}))
    assert upgrade.append_groups is None
    assert upgrade.status["pendingServiceStatus"]["rayClusterName"] == "svc-bbbbb"


def test_a_config_ray_refused_is_not_sent_again_until_the_spec_changes() -> None:
    world = steady(submitted={}, rejected={"svc-aaaaa": SUBMITTED})
    assert not plan(rayservice(active("svc-aaaaa")), **world).put_config
    changed = rayservice(active("svc-aaaaa"))
    changed["spec"]["serveConfigV2"] = yaml.safe_dump(
        {"applications": [{"name": "hello", "import_path": "x:app"}]}
    )
    assert list(plan(changed, **world).put_config) == ["svc-aaaaa"]


def test_validation_failure_is_a_ready_false_condition_with_the_problems() -> None:
    status = validation_failed(rayservice(active("svc-aaaaa")), "spec.serveConfigV2: not valid YAML", NOW)
    [ready] = [c for c in status["conditions"] if c["type"] == "Ready"]
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False",
        "ValidationFailed",
        "spec.serveConfigV2: not valid YAML",
    )
    assert "serviceStatus" not in status  # KubeRay's NotRunning is "", an omitempty field
    assert status["observedGeneration"] == 2


def serving_pod(name: str, *, label: str = "true", ready: str = "True", since: int = 60) -> dict[str, Any]:
    moment = (NOW - datetime.timedelta(seconds=since)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "metadata": {"name": name, "labels": {"ray.io/serve": label}},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": ready, "lastTransitionTime": moment}],
        },
    }


def test_serving_pods_are_the_ready_labelled_ones_and_settle_before_traffic_moves() -> None:
    pods = [
        serving_pod("head", since=60),
        serving_pod("worker-new", since=1),
        serving_pod("worker-unready", ready="False"),
        serving_pod("worker-unlabelled", label="false"),
    ]
    assert serving_pods(pods, NOW, {}) == (2, 1)
    # Labelled by the operator a moment ago: not settled however long it has been Ready.
    assert serving_pods(pods, NOW, {"head": NOW - datetime.timedelta(seconds=1)}) == (2, 0)
    later = NOW + datetime.timedelta(seconds=SETTLE_SECONDS)
    assert serving_pods(pods, later, {"head": NOW - datetime.timedelta(seconds=1)}) == (2, 2)


def test_a_cluster_another_operator_made_is_taken_over_in_place() -> None:
    # A RayService that KubeRay served: its cluster carries KubeRay's version and KubeRay's own hash.
    made = cluster("svc-aaaaa")
    made["metadata"]["annotations"].update(
        {
            "ray.io/kuberay-version": "v1.6.1",
            "ray.io/hash-without-replicas-and-workers-to-delete": "KUBERAYHASH",
        }
    )
    step = plan(rayservice(active("svc-aaaaa")), **steady(clusters={"svc-aaaaa": made}))
    assert step.adopt == ("svc-aaaaa", rayservice_hash(CLUSTER_SPEC))
    assert not step.create
    assert "pendingServiceStatus" not in step.status
    # A rayClusterConfig that differs from the cluster it took over is still an upgrade.
    changed = copy.deepcopy(CLUSTER_SPEC)
    changed["headGroupSpec"]["rayStartParams"] = {"num-cpus": "0"}
    upgrade = plan(rayservice(active("svc-aaaaa"), spec=changed), **steady(clusters={"svc-aaaaa": made}))
    assert upgrade.adopt == ("svc-aaaaa", rayservice_hash(CLUSTER_SPEC))
    assert upgrade.status["pendingServiceStatus"]["rayClusterName"] == "svc-bbbbb"

    # KubeRay's copy of the spec comes through its Go types, with empty structs written out (as seen
    # from KubeRay's operator): the same spec, so no upgrade.
    go_copy = copy.deepcopy(CLUSTER_SPEC)
    go_copy["headGroupSpec"]["template"]["metadata"] = {}
    go_copy["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"] = {}
    for group in go_copy.get("workerGroupSpecs") or []:
        group["scaleStrategy"] = {}
        group["template"]["metadata"] = {}
    made["spec"] = go_copy
    kept = plan(rayservice(active("svc-aaaaa")), **steady(clusters={"svc-aaaaa": made}))
    assert kept.adopt == ("svc-aaaaa", rayservice_hash(CLUSTER_SPEC))
    assert "pendingServiceStatus" not in kept.status
