"""Carrying out a pass's actions: slow-start batches, stop after a failed batch, every write in the
cache at once, one event per reason and pass; the fixed order (identity first, status last and only
after every write went through); status writes of what changed, with the resourceVersion."""

from __future__ import annotations

import asyncio
import copy
import itertools
from typing import Any

import aiohttp
import pytest

from raykopf.api.rayjob import RayJobStatus
from raykopf.k8s.client import ApiError
from raykopf.k8s.executor import Executor, NotOurs
from raykopf.k8s.informer import Informer
from raykopf.k8s.store import LatestStore
from raykopf.reconcile import pods as podstate
from raykopf.reconcile.actions import MUST_BE_OURS, TAKE_OVER, Actions, Create, Delete, RetryLater

OWNER = {"apiVersion": "ray.io/v1", "metadata": {"name": "demo", "namespace": "ns", "uid": "u1"}}


class FakeApi:
    """Creates Pods (failing from the `fail_from`-th create on) and records how many were in flight."""

    def __init__(self, fail_from: int | None = None) -> None:
        self.fail_from = fail_from
        self.creates = 0
        self.in_flight = 0
        self.batches: list[int] = []
        self.names = itertools.count()

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.creates += 1
        number = self.creates
        self.in_flight += 1
        self.batches.append(self.in_flight)  # how many were in flight when this one started
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        if self.fail_from is not None and number >= self.fail_from:
            raise ApiError(403, "exceeded quota")
        meta = {**body["metadata"], "name": f"{body['metadata']['generateName']}{next(self.names)}"}
        return {**body, "metadata": {**meta, "resourceVersion": "1"}}

    async def request(self, method: str, path: str, **_: Any) -> dict[str, Any]:
        return {"kind": "Status"}  # an immediate delete


class Events:
    def __init__(self) -> None:
        self.recorded: list[tuple[str, str, str]] = []

    def record(self, obj: dict[str, Any], kind: str, event_type: str, reason: str, note: str) -> None:
        self.recorded.append((event_type, reason, note))


def io(api: FakeApi) -> tuple[Executor, Events]:
    cache = Informer(
        api,  # type: ignore[arg-type]
        ["/api/v1/pods"],  # never run: read only by a refresh
        selector="ray.io/cluster",
        index_label="ray.io/cluster",
        slim=podstate.slim_pod,
        on_change=lambda *_: None,
    )
    events = Events()
    caches = {"Pod": cache, "Service": cache, "RayCluster": LatestStore(), "RayJob": LatestStore()}
    return Executor(api, events, caches), events  # type: ignore[arg-type]


def run(executor: Executor, actions: Actions, owner: dict[str, Any] = OWNER) -> Any:
    outcome = asyncio.run(executor.run("RayCluster", owner, actions, write_status=False))
    return outcome.failure


def pods(executor: Executor) -> tuple[dict[str, Any], ...]:
    return executor.caches["Pod"].owned("ns", "demo")  # type: ignore[attr-defined,no-any-return]


def worker(i: int, node_type: str = "worker") -> Create:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "demo-small-worker-" if node_type == "worker" else "demo-head-",
            "namespace": "ns",
            "labels": {"ray.io/cluster": "demo", "ray.io/node-type": node_type},
        },
        "spec": {"containers": [{"name": f"ray-{node_type}"}]},
    }
    if node_type == "head":
        return Create(body, "CreatedHeadPod", first=True)
    return Create(body, "CreatedWorkerPod")


def test_creates_go_in_doubling_batches_and_land_in_the_cache() -> None:
    api = FakeApi()
    cluster_io, events = io(api)
    failure = run(cluster_io, Actions(creates=[worker(i) for i in range(70)]))
    assert failure is None
    assert api.batches[:6] == [1, 2, 3, 4, 1, 2]  # 4 at once, then the next batch
    assert max(api.batches) == 32  # 4, 8, 16, 32, then the last 10
    assert len(pods(cluster_io)) == 70
    assert len(events.recorded) == 1
    event_type, reason, note = events.recorded[0]
    assert (event_type, reason) == ("Normal", "CreatedWorkerPod")
    assert note.startswith("Created 70 worker Pods: ns/demo-small-worker-0, ")


def test_a_failed_batch_stops_the_creates_and_reports_the_replica_failure() -> None:
    api = FakeApi(fail_from=6)
    cluster_io, events = io(api)
    failure = run(cluster_io, Actions(creates=[worker(i) for i in range(70)]))
    assert str(failure) == "FailedCreateWorkerPod: exceeded quota"
    assert (failure.reason, failure.replica_failure, failure.message) == (
        "FailedToCreateWorkerPod",
        "FailedCreateWorkerPod",
        "exceeded quota",
    )
    assert api.creates == 12  # 4, then a batch of 8 that failed: nothing more
    assert len(pods(cluster_io)) == 5
    reasons = [reason for _, reason, _ in events.recorded]
    assert reasons.count("FailedToCreateWorkerPod") == 7
    assert reasons.count("CreatedWorkerPod") == 1


def test_the_head_goes_first_and_alone_and_no_worker_is_tried_when_it_fails() -> None:
    api = FakeApi()
    cluster_io, _ = io(api)
    plan = Actions(creates=[worker(0, "head"), *(worker(i) for i in range(3))])
    assert run(cluster_io, plan) is None
    assert api.batches == [1, 1, 2, 3]  # the head alone, then the workers together
    failing = FakeApi(fail_from=1)
    cluster_io, events = io(failing)
    failure = run(cluster_io, Actions(creates=[worker(0, "head"), worker(1)]))
    assert str(failure) == "FailedCreateHeadPod: exceeded quota"
    assert failing.creates == 1
    assert [reason for _, reason, _ in events.recorded] == ["FailedToCreateHeadPod"]


def test_a_single_create_keeps_kuberays_message() -> None:
    cluster_io, events = io(FakeApi())
    run(cluster_io, Actions(creates=[worker(0)]))
    assert events.recorded == [("Normal", "CreatedWorkerPod", "Created worker Pod ns/demo-small-worker-0")]


def test_deleted_pods_leave_the_cache_at_once() -> None:
    cluster_io, events = io(FakeApi())
    for name in ("a", "b"):
        cluster_io.caches["Pod"].upsert(
            {"metadata": {"name": name, "namespace": "ns", "labels": {"ray.io/cluster": "demo"}}}
        )
    plan = Actions(
        deletes=[Delete("Pod", "ns", "a", "DeletedWorkerPod"), Delete("Pod", "ns", "b", "DeletedWorkerPod")]
    )
    assert run(cluster_io, plan) is None
    assert pods(cluster_io) == ()
    assert events.recorded == [("Normal", "DeletedWorkerPod", "Deleted 2 worker Pods: ns/a, ns/b")]


class RbacApi(FakeApi):
    """Holds Roles and RoleBindings by name; a create of an existing one is a 409."""

    def __init__(self, existing: dict[str, dict[str, Any]], hide_first_get: bool = False) -> None:
        super().__init__()
        self.existing, self.hide_first_get = existing, hide_first_get

    async def get(self, path: str) -> dict[str, Any] | None:
        if self.hide_first_get:  # created by someone else between the operator's GET and its create
            self.hide_first_get = False
            return None
        return self.existing.get(path.rsplit("/", 1)[1])

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.creates += 1
        if body["metadata"]["name"] in self.existing:
            raise ApiError(409, "AlreadyExists")
        self.existing[body["metadata"]["name"]] = body
        return body


def role(owner_uid: str | None) -> dict[str, Any]:
    refs = [{"kind": "RayCluster", "name": "demo", "uid": owner_uid}] if owner_uid else []
    return {"kind": "Role", "metadata": {"name": "demo", "namespace": "ns", "ownerReferences": refs}}


def test_an_autoscaler_role_someone_else_made_is_never_built_on() -> None:
    wanted = {"apiVersion": "rbac.authorization.k8s.io/v1", **role(OWNER["metadata"]["uid"])}
    create = Create(wanted, "CreatedRole", if_exists=MUST_BE_OURS, look_first=True, first=True)
    ours, _ = io(RbacApi({"demo": role(OWNER["metadata"]["uid"])}))
    assert run(ours, Actions(creates=[create])) is None  # its own (or KubeRay's for this cluster)
    for api in (RbacApi({"demo": role("someone-else")}), RbacApi({"demo": role(None)}, hide_first_get=True)):
        cluster_io, events = io(api)
        with pytest.raises(NotOurs, match="Role ns/demo exists and is not this RayCluster's"):
            run(cluster_io, Actions(creates=[create, worker(1)]))
        assert events.recorded == []
        assert api.creates <= 1  # the worker after it was never tried


class LostAnswers(FakeApi):
    """The second create is made but its answer lost (a dropped connection); the others answer later."""

    def __init__(self) -> None:
        super().__init__()
        self.made: list[dict[str, Any]] = []

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.creates += 1
        number = self.creates
        meta = {
            **body["metadata"],
            "name": f"{body['metadata']['generateName']}{number}",
            "resourceVersion": "1",
        }
        made = {**body, "metadata": meta}
        self.made.append(made)
        if number == 2:
            raise aiohttp.ServerDisconnectedError()
        await asyncio.sleep(0.05)  # still in flight when the lost one fails
        return made

    async def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        assert method == "GET", method
        assert "/namespaces/ns/" in path, path
        assert kwargs["params"]["labelSelector"].endswith("ray.io/cluster=demo"), kwargs
        return {"metadata": {"resourceVersion": "5"}, "items": self.made}


def test_a_create_without_an_answer_waits_for_its_batch_and_the_next_pass_reads_the_pods_first() -> None:
    api = LostAnswers()
    cluster_io, events = io(api)

    async def main() -> None:
        outcome = await cluster_io.run("RayCluster", OWNER, Actions(creates=[worker(i) for i in range(4)]))
        failure = outcome.failure
        assert failure is not None
        assert str(failure).startswith("FailedCreateWorkerPod: ServerDisconnectedError"), failure
        # The batch's other three answers reached the cache before the pass ended.
        assert len(pods(cluster_io)) == 3
        assert ("ns", "demo") in cluster_io.unsure
        await cluster_io.settle_unsure("ns", "demo")  # what the next pass does before it plans
        assert len(pods(cluster_io)) == 4  # the one made without an answer too
        assert cluster_io.unsure == set()

    asyncio.run(main())
    assert ("Warning", "FailedToCreateWorkerPod") in {(t, r) for t, r, _ in events.recorded}


class Apiserver:
    """Records every write in order; status and metadata patches check the resourceVersion as the
    apiserver does (a stale one is a 409) and bump it."""

    def __init__(self, owner: dict[str, Any], refuse: str = "") -> None:
        self.owner = copy.deepcopy(owner)
        self.refuse = refuse
        self.calls: list[tuple[str, str]] = []

    async def get(self, path: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.owner)

    async def merge_patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("PATCH", path))
        expected = (body.get("metadata") or {}).get("resourceVersion")
        if expected is not None and expected != self.owner["metadata"]["resourceVersion"]:
            raise ApiError(
                409, '{"kind":"Status","message":"the object has been modified","reason":"Conflict"}'
            )
        if path.endswith("/status"):
            status = self.owner.setdefault("status", {})
            for key, value in body["status"].items():
                if value is None:
                    status.pop(key, None)
                else:
                    status[key] = value
        else:
            self.owner["metadata"].update(
                {k: v for k, v in body["metadata"].items() if k != "resourceVersion"}
            )
        self.owner["metadata"]["resourceVersion"] = str(int(self.owner["metadata"]["resourceVersion"]) + 1)
        return copy.deepcopy(self.owner)

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("POST", path))
        if self.refuse and body["kind"] == self.refuse:
            raise ApiError(500, "etcdserver: request timed out")
        return {**body, "metadata": {**body["metadata"], "resourceVersion": "1"}}

    async def request(self, method: str, path: str, **_: Any) -> dict[str, Any]:
        self.calls.append((method, path))
        return {"kind": "Status"}

    async def delete(self, path: str, body: dict[str, Any] | None = None) -> None:
        self.calls.append(("DELETE", path))


RAYJOB = {
    "apiVersion": "ray.io/v1",
    "kind": "RayJob",
    "metadata": {"name": "job", "namespace": "ns", "uid": "u2", "resourceVersion": "7"},
    "status": {"jobDeploymentStatus": "", "other": {"kept": True}},
}
CLUSTER = {
    "apiVersion": "ray.io/v1",
    "kind": "RayCluster",
    "metadata": {"name": "job-abc", "namespace": "ns"},
}
NAMED = {"jobDeploymentStatus": "Initializing", "rayClusterName": "job-abc", "other": {"kept": True}}


def typed(status: dict[str, Any]) -> RayJobStatus:
    return RayJobStatus.model_validate(status)


def executor_for(api: Apiserver) -> Executor:
    caches = {"RayCluster": LatestStore(), "RayJob": LatestStore()}
    return Executor(api, Events(), caches)  # type: ignore[arg-type]


def test_a_status_that_names_what_the_pass_creates_is_written_before_it() -> None:
    api = Apiserver(RAYJOB)
    actions = Actions(
        creates=[Create(CLUSTER, "CreatedRayCluster")],
        status=typed(NAMED),
        status_first=True,
        add_finalizer="ray.io/rayjob-finalizer",
    )
    outcome = asyncio.run(executor_for(api).run("RayJob", RAYJOB, actions))
    assert (outcome.failure, outcome.owner is not None) == (None, True)
    job, clusters = "/apis/ray.io/v1/namespaces/ns/rayjobs/job", "/apis/ray.io/v1/namespaces/ns/rayclusters"
    assert api.calls == [("PATCH", job), ("PATCH", f"{job}/status"), ("POST", clusters)]
    assert api.owner["status"] == NAMED
    assert outcome.owner["metadata"]["resourceVersion"] == "9"


def test_a_failed_create_leaves_the_identity_written_and_nothing_after_it() -> None:
    """The RayJob case: the cluster's name is stored, its create fails (a 500): the status that would
    follow, the finalizer removal and the owner's deletion do not happen; the next pass finds the name."""
    api = Apiserver(RAYJOB, refuse="RayCluster")
    later = {**NAMED, "jobDeploymentStatus": "Running"}
    first = Actions(creates=[Create(CLUSTER, "CreatedRayCluster")], status=typed(NAMED), status_first=True)
    outcome = asyncio.run(executor_for(api).run("RayJob", RAYJOB, first))
    assert outcome.failure is not None
    assert outcome.failure.reason == "FailedToCreateRayCluster"
    assert api.owner["status"]["rayClusterName"] == "job-abc"
    api.calls.clear()
    second = Actions(creates=[Create(CLUSTER, "CreatedRayCluster")], status=typed(later), delete_owner=True)
    outcome = asyncio.run(executor_for(api).run("RayJob", api.owner, second))
    assert outcome.failure is not None
    assert [method for method, _ in api.calls] == ["POST"]  # no status write, no delete
    assert api.owner["status"]["jobDeploymentStatus"] == "Initializing"


def test_a_status_write_sends_only_what_changed_and_fails_on_a_newer_version() -> None:
    api = Apiserver(RAYJOB)
    executor = executor_for(api)
    sent: list[dict[str, Any]] = []
    original = api.merge_patch

    async def spy(path: str, body: dict[str, Any]) -> dict[str, Any]:
        sent.append(body)
        return await original(path, body)

    api.merge_patch = spy  # type: ignore[method-assign]
    written = asyncio.run(executor.write_status("RayJob", RAYJOB, typed({"jobDeploymentStatus": "New"})))
    assert sent == [
        {"metadata": {"resourceVersion": "7"}, "status": {"jobDeploymentStatus": "New", "other": None}}
    ]
    assert written is not None
    assert written["metadata"]["resourceVersion"] == "8"
    # The same write planned from the old version (a deposed leader's, or one made before a spec edit):
    # refused, and the cache now holds the new version for the retry.
    with pytest.raises(RetryLater):
        asyncio.run(executor.write_status("RayJob", RAYJOB, typed({"jobDeploymentStatus": "Running"})))
    assert api.owner["status"] == {"jobDeploymentStatus": "New"}
    assert executor.caches["RayJob"].get("ns", "job")["metadata"]["resourceVersion"] == "8"  # type: ignore[attr-defined]
    assert (
        asyncio.run(executor.write_status("RayJob", written, typed({"jobDeploymentStatus": "New"})))
        is written
    )
    assert len(sent) == 2  # nothing changed: nothing sent


def test_a_finalizer_write_that_meets_another_writers_change_is_retried_not_reported() -> None:
    """Kueue's webhook and controller write a queued RayJob while the operator adds its finalizer:
    the 409 is a retry from the new version (RetryLater), not a failure told on the object."""
    api = Apiserver(RAYJOB)
    api.owner["metadata"]["resourceVersion"] = "9"  # changed since the operator read version 7
    executor = executor_for(api)
    with pytest.raises(RetryLater):
        asyncio.run(executor.set_finalizer("RayJob", RAYJOB, "ray.io/rayjob-finalizer", present=True))
    cached = executor.caches["RayJob"].get("ns", "job")
    assert cached is not None
    assert cached["metadata"]["resourceVersion"] == "9"
    updated = asyncio.run(executor.set_finalizer("RayJob", cached, "ray.io/rayjob-finalizer", present=True))
    assert updated["metadata"]["finalizers"] == ["ray.io/rayjob-finalizer"]


def test_a_service_that_exists_but_is_not_ours_yet_is_taken_over() -> None:
    class Taken(FakeApi):
        def __init__(self) -> None:
            super().__init__()
            self.patched: list[dict[str, Any]] = []

        async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
            raise ApiError(409, "AlreadyExists")

        async def merge_patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
            self.patched.append(body)
            meta = {"name": "job-head-svc", "namespace": "ns", "labels": body["metadata"]["labels"]}
            return {"kind": "Service", "metadata": meta, "spec": body["spec"]}

    service = {
        "kind": "Service",
        "metadata": {"name": "job-head-svc", "namespace": "ns", "labels": {"ray.io/cluster": "demo"}},
        "spec": {"selector": {"ray.io/cluster": "demo"}},
    }
    api = Taken()
    executor, events = io(api)
    actions = Actions(creates=[Create(service, "CreatedService", if_exists=TAKE_OVER)])
    assert run(executor, actions) is None
    assert api.patched == [{"metadata": {"labels": {"ray.io/cluster": "demo"}}, "spec": service["spec"]}]
    assert events.recorded == [("Normal", "UpdatedService", "Took over service ns/job-head-svc")]
