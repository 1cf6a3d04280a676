"""RayService decisions: clusters, Serve config, traffic, clean-up, status (≙ rayservice_controller tests)."""

from __future__ import annotations

import copy
import datetime
import json
from typing import Any

import yaml

from raykopf.api.rayservice import RayService, RayServiceStatus
from raykopf.config import OperatorConfig
from raykopf.reconcile.actions import Actions
from raykopf.reconcile.hashing import rayservice_hash
from raykopf.reconcile.rayservice import (
    FINALIZER,
    SETTLE_SECONDS,
    PutConfig,
    ServeProbe,
    ServiceWorld,
    Watch,
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


def made(step: Actions) -> list[dict[str, Any]]:
    """The RayClusters the pass creates."""
    return [c.body for c in step.creates if c.body["kind"] == "RayCluster"]


def deleted(step: Actions) -> list[tuple[str, str]]:
    return [(d.kind, d.name) for d in step.deletes]


def put_config(step: Actions) -> dict[str, Any]:
    return {i.cluster: i.config for i in step.intents if isinstance(i, PutConfig)}


def watch(step: Actions) -> Watch:
    (found,) = [i for i in step.intents if isinstance(i, Watch)]
    return found


def pointed_at(step: Actions) -> str | None:
    """The cluster the pass points the Services at (by creating them or moving their selector)."""
    bodies = [c.body for c in step.creates if c.body["kind"] == "Service"]
    bodies += [p.body for p in step.patches if p.kind == "Service"]
    targets = {b["spec"]["selector"]["ray.io/cluster"] for b in bodies}
    assert len(targets) <= 1, targets
    return next(iter(targets), None)


def serve_labels(step: Actions) -> dict[str, str]:
    return {p.name: p.body["metadata"]["labels"]["ray.io/serve"] for p in step.patches if p.kind == "Pod"}


def cluster_patches(step: Actions) -> dict[str, dict[str, Any]]:
    return {p.name: p.body for p in step.patches if p.kind == "RayCluster"}


def stamp(step: Actions) -> str:
    """The spec hash the pass stamps on the cluster it takes over."""
    annotations = cluster_patches(step)["svc-aaaaa"]["metadata"]["annotations"]
    return str(annotations["ray.io/hash-without-replicas-and-workers-to-delete"])


def plan(raw: dict[str, Any], **world: Any) -> Actions:
    world.setdefault("clusters", {})
    suffixes = iter(["aaaaa", "bbbbb", "ccccc"])
    actions = plan_rayservice(
        RayService.model_validate(raw),
        raw,
        ServiceWorld(now=NOW, **world),
        CONFIG,
        suffix=lambda: next(suffixes),
    )
    # The status as it goes to the apiserver (the planner returns the typed model).
    assert isinstance(actions.status, RayServiceStatus), actions.status
    actions.status = actions.status.to_dict()  # type: ignore[assignment]
    return actions


def active(name: str) -> dict[str, Any]:
    return {"activeServiceStatus": {"rayClusterName": name}}


def test_a_new_rayservice_creates_its_first_cluster_as_pending() -> None:
    raw = rayservice()
    raw["metadata"]["finalizers"] = []
    named = plan(raw)
    assert named.add_finalizer == "ray.io/rayservice-finalizer"
    assert named.status["pendingServiceStatus"]["rayClusterName"] == "svc-aaaaa"
    # The name is stored before the cluster is made (KubeRay's markRestartAndAddPendingClusterName).
    assert named.status_first
    assert [c["metadata"]["name"] for c in made(named)] == ["svc-aaaaa"]
    step = plan(rayservice(named.status))  # its create failed: made again, under the same name
    assert step.status["pendingServiceStatus"]["rayClusterName"] == "svc-aaaaa"
    assert not step.status_first
    [created] = made(step)
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
    assert not put_config(waiting)
    assert not watch(waiting).clusters
    asked = plan(
        rayservice(status), clusters={"svc-aaaaa": cluster("svc-aaaaa")}, serve={"svc-aaaaa": ServeProbe({})}
    )
    assert watch(asked).clusters == ("svc-aaaaa",)
    assert put_config(asked) == {"svc-aaaaa": SERVE}
    assert pointed_at(asked) is None  # no application runs yet


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
    assert pointed_at(step) == "svc-aaaaa"
    assert step.status["activeServiceStatus"]["rayClusterName"] == "svc-aaaaa"
    assert "pendingServiceStatus" not in step.status
    assert step.status["activeServiceStatus"]["applicationStatuses"] == {
        "hello": {"status": "RUNNING", "serveDeploymentStatuses": {"Hello": {"status": "HEALTHY"}}}
    }
    assert serve_labels(step) == {"head-1": "true"}
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
    assert list(put_config(step)) == ["svc-aaaaa"]
    assert not made(step)
    assert "pendingServiceStatus" not in step.status


def test_steady_state_does_nothing_and_replica_changes_never_upgrade() -> None:
    assert not put_config(plan(rayservice(active("svc-aaaaa")), **steady()))
    scaled = copy.deepcopy(CLUSTER_SPEC)
    scaled["workerGroupSpecs"][0]["replicas"] = 5
    step = plan(rayservice(active("svc-aaaaa"), spec=scaled), **steady())
    assert not made(step)
    assert not put_config(step)
    assert pointed_at(step) is None


def test_a_cluster_config_change_is_a_blue_green_upgrade() -> None:
    changed = copy.deepcopy(CLUSTER_SPEC)
    changed["headGroupSpec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]
    started = plan(rayservice(active("svc-aaaaa"), spec=changed), **steady())
    # A fresh name (the suffix that would repeat the active cluster's name is skipped).
    assert started.status["pendingServiceStatus"]["rayClusterName"] == "svc-bbbbb"
    assert started.status_first  # stored before it is made
    assert [c["metadata"]["name"] for c in made(started)] == ["svc-bbbbb"]
    retried = plan(rayservice(started.status, spec=changed), **steady())
    assert [c["metadata"]["name"] for c in made(retried)] == ["svc-bbbbb"]
    # Its status write failed: the pass after finds the name and the cluster, and makes nothing.
    again = plan(
        rayservice(started.status, spec=changed),
        **{**steady(), "clusters": {**steady()["clusters"], "svc-bbbbb": cluster("svc-bbbbb", changed)}},
    )
    assert made(again) == []
    assert again.status["pendingServiceStatus"]["rayClusterName"] == "svc-bbbbb"
    assert started.status["activeServiceStatus"]["rayClusterName"] == "svc-aaaaa"
    assert pointed_at(started) is None  # traffic stays on the active cluster
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
    assert pointed_at(deploying) is None
    assert not put_config(deploying)  # the active cluster keeps what it serves
    no_endpoint_yet = plan(
        rayservice(status, spec=changed),
        **{**world, "serve": {**world["serve"], "svc-bbbbb": ServeProbe(RUNNING_APPS)}},
    )
    assert pointed_at(no_endpoint_yet) is None  # nothing Ready behind the new selector yet
    world["serving_pods"] = {"svc-aaaaa": 1, "svc-bbbbb": 1}
    unsettled = plan(
        rayservice(status, spec=changed),
        **{**world, "serve": {**world["serve"], "svc-bbbbb": ServeProbe(RUNNING_APPS)}},
    )
    # Ready and labelled only just now: the Endpoints controller may not know yet. Look again shortly.
    assert pointed_at(unsettled) is None
    assert unsettled.requeue_after is not None
    assert unsettled.requeue_after <= SETTLE_SECONDS
    world["settled_pods"] = {"svc-aaaaa": 1, "svc-bbbbb": 1}
    switched = plan(
        rayservice(status, spec=changed),
        **{**world, "serve": {**world["serve"], "svc-bbbbb": ServeProbe(RUNNING_APPS)}},
    )
    assert pointed_at(switched) == "svc-bbbbb"
    assert switched.status["activeServiceStatus"]["rayClusterName"] == "svc-bbbbb"
    # The old cluster is deleted after rayClusterDeletionDelaySeconds (default 60).
    assert watch(switched).deletion_due == {"svc-aaaaa": NOW + datetime.timedelta(seconds=60)}
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
    assert deleted(after) == [("RayCluster", "svc-aaaaa")]


def test_upgrade_strategy_none_ignores_cluster_changes() -> None:
    changed = copy.deepcopy(CLUSTER_SPEC)
    changed["rayVersion"] = "2.61.0"
    step = plan(rayservice(active("svc-aaaaa"), spec=changed, upgradeStrategy={"type": "None"}), **steady())
    assert not made(step)
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
    assert serve_labels(step) == {"head-1": "false"}


def test_deletion_removes_every_cluster_before_the_finalizer() -> None:
    world = ServiceWorld(now=NOW, clusters={"svc-aaaaa": cluster("svc-aaaaa")})
    step = plan_deletion("ns", world)
    assert deleted(step) == [("RayCluster", "svc-aaaaa")]
    assert not step.remove_finalizer
    assert (
        plan_deletion("ns", ServiceWorld(now=NOW, clusters={})).remove_finalizer
        == "ray.io/rayservice-finalizer"
    )


def conditions(step: Actions) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in step.status["conditions"]}


def test_suspend_deletes_everything_atomically_and_resume_starts_over() -> None:
    world = steady()
    suspending = plan(rayservice(active("svc-aaaaa"), suspend=True), **world)
    assert set(deleted(suspending)) == {("RayCluster", "svc-aaaaa"), ("Service", "svc-aaaaa")}
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
    assert resumed.status_first
    assert [c["metadata"]["name"] for c in made(resumed)] == ["svc-aaaaa"]
    assert [c["metadata"]["name"] for c in made(plan(rayservice(resumed.status)))] == ["svc-aaaaa"]


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
    assert deleted(step) == [("RayCluster", "svc-aaaaa")]
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
    patch = cluster_patches(step)["svc-aaaaa"]
    assert patch["spec"]["workerGroupSpecs"] == [*running["spec"]["workerGroupSpecs"], extra]
    assert patch["metadata"]["annotations"] == {
        "ray.io/hash-without-replicas-and-workers-to-delete": rayservice_hash(grown),
        "ray.io/num-worker-groups": "2",
    }
    assert patch["metadata"]["resourceVersion"] == running["metadata"].get("resourceVersion")
    assert not made(step)
    assert "pendingServiceStatus" not in step.status
    # Changing an existing group as well is an upgrade.
    grown["workerGroupSpecs"][0]["rayStartParams"] = {"num-cpus": "2"}
    upgrade = plan(rayservice(active("svc-aaaaa"), spec=grown), **steady(clusters={"svc-aaaaa": running}))
    assert cluster_patches(upgrade) == {}
    assert upgrade.status["pendingServiceStatus"]["rayClusterName"] == "svc-bbbbb"


def test_a_config_ray_refused_is_not_sent_again_until_the_spec_changes() -> None:
    world = steady(submitted={}, rejected={"svc-aaaaa": SUBMITTED})
    assert not put_config(plan(rayservice(active("svc-aaaaa")), **world))
    changed = rayservice(active("svc-aaaaa"))
    changed["spec"]["serveConfigV2"] = yaml.safe_dump(
        {"applications": [{"name": "hello", "import_path": "x:app"}]}
    )
    assert list(put_config(plan(changed, **world))) == ["svc-aaaaa"]


def test_validation_failure_is_a_ready_false_condition_with_the_problems() -> None:
    status = validation_failed(
        rayservice(active("svc-aaaaa")), "spec.serveConfigV2: not valid YAML", NOW
    ).to_dict()
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
    theirs = cluster("svc-aaaaa")
    theirs["metadata"]["annotations"].update(
        {
            "ray.io/kuberay-version": "v1.6.1",
            "ray.io/hash-without-replicas-and-workers-to-delete": "KUBERAYHASH",
        }
    )
    step = plan(rayservice(active("svc-aaaaa")), **steady(clusters={"svc-aaaaa": theirs}))
    assert stamp(step) == rayservice_hash(CLUSTER_SPEC)
    assert cluster_patches(step)["svc-aaaaa"]["metadata"]["annotations"]["ray.io/kuberay-version"] != "v1.6.1"
    assert not made(step)
    assert "pendingServiceStatus" not in step.status
    # A rayClusterConfig that differs from the cluster it took over is still an upgrade.
    changed = copy.deepcopy(CLUSTER_SPEC)
    changed["headGroupSpec"]["rayStartParams"] = {"num-cpus": "0"}
    upgrade = plan(rayservice(active("svc-aaaaa"), spec=changed), **steady(clusters={"svc-aaaaa": theirs}))
    assert stamp(upgrade) == rayservice_hash(CLUSTER_SPEC)
    assert upgrade.status["pendingServiceStatus"]["rayClusterName"] == "svc-bbbbb"

    # KubeRay's copy of the spec comes through its Go types, with empty structs written out (as seen
    # from KubeRay's operator): the same spec, so no upgrade.
    go_copy = copy.deepcopy(CLUSTER_SPEC)
    go_copy["headGroupSpec"]["template"]["metadata"] = {}
    go_copy["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"] = {}
    for group in go_copy.get("workerGroupSpecs") or []:
        group["scaleStrategy"] = {}
        group["template"]["metadata"] = {}
    theirs["spec"] = go_copy
    kept = plan(rayservice(active("svc-aaaaa")), **steady(clusters={"svc-aaaaa": theirs}))
    assert stamp(kept) == rayservice_hash(CLUSTER_SPEC)
    assert "pendingServiceStatus" not in kept.status
