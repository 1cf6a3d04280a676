"""Carrying out a plan: slow-start batches, stop after a failed batch, every write in the cache at once,
one event per reason and pass."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import aiohttp
import pytest

from raykopf.k8s.client import ApiError
from raykopf.k8s.informer import Informer
from raykopf.k8s.raycluster import ClusterIO, NotOurs
from raykopf.reconcile import pods as podstate
from raykopf.reconcile.plan import Create, Delete, Plan

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


def io(api: FakeApi) -> tuple[ClusterIO, Events]:
    cache = Informer(
        api,  # type: ignore[arg-type]
        ["/api/v1/pods"],  # never run: read only by a refresh
        selector="ray.io/cluster",
        index_label="ray.io/cluster",
        slim=podstate.slim_pod,
        on_change=lambda *_: None,
    )
    events = Events()
    return ClusterIO(api, cache, cache, events), events  # type: ignore[arg-type]


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
    return Create(body, "CreatedWorkerPod" if node_type == "worker" else "CreatedHeadPod")


def test_creates_go_in_doubling_batches_and_land_in_the_cache() -> None:
    api = FakeApi()
    cluster_io, events = io(api)
    failure = asyncio.run(cluster_io.execute(OWNER, Plan(creates=[worker(i) for i in range(70)])))
    assert failure is None
    assert api.batches[:6] == [1, 2, 3, 4, 1, 2]  # 4 at once, then the next batch
    assert max(api.batches) == 32  # 4, 8, 16, 32, then the last 10
    assert len(cluster_io.pods.owned("ns", "demo")) == 70
    assert len(events.recorded) == 1
    event_type, reason, note = events.recorded[0]
    assert (event_type, reason) == ("Normal", "CreatedWorkerPod")
    assert note.startswith("Created 70 worker Pods: ns/demo-small-worker-0, ")


def test_a_failed_batch_stops_the_creates_and_reports_the_replica_failure() -> None:
    api = FakeApi(fail_from=6)
    cluster_io, events = io(api)
    failure = asyncio.run(cluster_io.execute(OWNER, Plan(creates=[worker(i) for i in range(70)])))
    assert str(failure) == "FailedCreateWorkerPod: exceeded quota"
    assert api.creates == 12  # 4, then a batch of 8 that failed: nothing more
    assert len(cluster_io.pods.owned("ns", "demo")) == 5
    reasons = [reason for _, reason, _ in events.recorded]
    assert reasons.count("FailedToCreateWorkerPod") == 7
    assert reasons.count("CreatedWorkerPod") == 1


def test_the_head_goes_first_and_alone_and_no_worker_is_tried_when_it_fails() -> None:
    api = FakeApi()
    cluster_io, _ = io(api)
    plan = Plan(creates=[worker(0, "head"), *(worker(i) for i in range(3))])
    assert asyncio.run(cluster_io.execute(OWNER, plan)) is None
    assert api.batches == [1, 1, 2, 3]  # the head alone, then the workers together
    failing = FakeApi(fail_from=1)
    cluster_io, events = io(failing)
    failure = asyncio.run(cluster_io.execute(OWNER, Plan(creates=[worker(0, "head"), worker(1)])))
    assert str(failure) == "FailedCreateHeadPod: exceeded quota"
    assert failing.creates == 1
    assert [reason for _, reason, _ in events.recorded] == ["FailedToCreateHeadPod"]


def test_a_single_create_keeps_kuberays_message() -> None:
    cluster_io, events = io(FakeApi())
    asyncio.run(cluster_io.execute(OWNER, Plan(creates=[worker(0)])))
    assert events.recorded == [("Normal", "CreatedWorkerPod", "Created worker Pod ns/demo-small-worker-0")]


def test_deleted_pods_leave_the_cache_at_once() -> None:
    cluster_io, events = io(FakeApi())
    for name in ("a", "b"):
        cluster_io.pods.upsert(
            {"metadata": {"name": name, "namespace": "ns", "labels": {"ray.io/cluster": "demo"}}}
        )
    plan = Plan(
        deletes=[Delete("Pod", "ns", "a", "DeletedWorkerPod"), Delete("Pod", "ns", "b", "DeletedWorkerPod")]
    )
    assert asyncio.run(cluster_io.execute(OWNER, plan)) is None
    assert cluster_io.pods.owned("ns", "demo") == ()
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
        if body["metadata"]["name"] in self.existing:
            raise ApiError(409, "AlreadyExists")
        self.existing[body["metadata"]["name"]] = body
        return body


def role(owner_uid: str | None) -> dict[str, Any]:
    refs = [{"kind": "RayCluster", "name": "demo", "uid": owner_uid}] if owner_uid else []
    return {"kind": "Role", "metadata": {"name": "demo", "namespace": "ns", "ownerReferences": refs}}


def test_an_autoscaler_role_someone_else_made_is_never_built_on() -> None:
    wanted = {"apiVersion": "rbac.authorization.k8s.io/v1", **role(OWNER["metadata"]["uid"])}
    ours, _ = io(RbacApi({"demo": role(OWNER["metadata"]["uid"])}))  # type: ignore[arg-type]
    asyncio.run(ours.ensure(OWNER, wanted, "CreatedRole"))  # its own (or KubeRay's for this cluster)
    for api in (RbacApi({"demo": role("someone-else")}), RbacApi({"demo": role(None)}, hide_first_get=True)):
        cluster_io, events = io(api)  # type: ignore[arg-type]
        with pytest.raises(NotOurs, match="Role ns/demo exists and is not this RayCluster's"):
            asyncio.run(cluster_io.ensure(OWNER, wanted, "CreatedRole"))
        assert events.recorded == []


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
        failure = await cluster_io.execute(OWNER, Plan(creates=[worker(i) for i in range(4)]))
        assert failure is not None
        assert failure.text.startswith("FailedCreateWorkerPod: ServerDisconnectedError"), failure.text
        # The batch's other three answers reached the cache before the pass ended.
        assert len(cluster_io.pods.owned("ns", "demo")) == 3
        assert ("ns", "demo") in cluster_io.unsure
        await cluster_io.settle_unsure("ns", "demo")  # what the next pass does before it plans
        assert len(cluster_io.pods.owned("ns", "demo")) == 4  # the one made without an answer too
        assert cluster_io.unsure == set()

    asyncio.run(main())
    assert ("Warning", "FailedToCreateWorkerPod") in {(t, r) for t, r, _ in events.recorded}
