"""The watch cache: relist diffing, resourceVersion ordering, the owner index and change notices."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from raykopf.k8s.client import ApiError
from raykopf.k8s.informer import Informer
from raykopf.k8s.store import LatestStore
from raykopf.reconcile import pods as podstate


def pod(
    name: str, cluster: str, version: int, *, phase: str = "Running", ready: bool = True
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "resourceVersion": str(version),
            "labels": {"ray.io/cluster": cluster, "ray.io/node-type": "worker"},
            "managedFields": [{"manager": "x" * 1000}],
        },
        "spec": {
            "restartPolicy": "Always",
            "containers": [{"name": "ray-worker", "image": "ray", "env": []}],
        },
        "status": {
            "phase": phase,
            "podIP": "198.18.0.9",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False", "lastProbeTime": None}],
        },
    }


class FakeClient:
    """Serves scripted listings and watch streams; a watch script entry may be an exception to raise."""

    def __init__(self, listings: list[list[dict[str, Any]]], watches: list[list[Any]]) -> None:
        self.listings = listings
        self.watches = watches
        self.lists = 0

    async def request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        items = self.listings[min(self.lists, len(self.listings) - 1)]
        self.lists += 1
        return {"metadata": {"resourceVersion": "100"}, "items": items}

    async def watch(self, path: str, version: str, **params: Any) -> AsyncIterator[dict[str, Any]]:
        script = self.watches.pop(0) if self.watches else []
        for entry in script:
            if isinstance(entry, Exception):
                raise entry
            yield entry
        if not self.watches:
            await asyncio.Event().wait()  # an idle stream


def informer(client: FakeClient, changes: list[tuple[str, str]]) -> Informer:
    return Informer(
        client,  # type: ignore[arg-type]
        ["/api/v1/pods"],
        selector="ray.io/cluster",
        index_label="ray.io/cluster",
        slim=podstate.slim_pod,
        on_change=lambda ns, owner: changes.append((ns, owner)),
    )


async def run_until(cache: Informer, condition: Any) -> None:
    task = asyncio.create_task(cache.run())
    try:
        for _ in range(200):
            if condition():
                return
            await asyncio.sleep(0.005)
        raise AssertionError("condition not reached")
    finally:
        task.cancel()


def test_relist_after_410_drops_objects_deleted_while_no_watch_was_open() -> None:
    client = FakeClient(
        listings=[[pod("a", "c1", 1), pod("b", "c1", 2)], [pod("a", "c1", 1)]],
        watches=[[ApiError(410, "Gone")], []],
    )
    changes: list[tuple[str, str]] = []
    cache = informer(client, changes)
    asyncio.run(run_until(cache, lambda: client.lists >= 2 and len(cache) == 1))
    assert [p["metadata"]["name"] for p in cache.owned("ns", "c1")] == ["a"]
    assert ("ns", "c1") in changes


def test_relist_keeps_what_the_operator_created_after_the_listings_snapshot() -> None:
    """The listing (version 100) was taken before the operator's own create (version 120) landed in
    the cache: dropping that Pod would make the next pass create a second one."""
    client = FakeClient(listings=[[pod("a", "c1", 1)]], watches=[])
    cache = informer(client, [])

    async def main() -> None:
        await cache._relist("/api/v1/pods")
        cache.upsert(pod("mine", "c1", 120))  # a create's answer, before the watch reports it
        cache.upsert(pod("gone", "c1", 90))  # deleted while no watch was open
        await cache._relist("/api/v1/pods")  # after a 410 Gone

    asyncio.run(main())
    assert [p["metadata"]["name"] for p in cache.owned("ns", "c1")] == ["a", "mine"]


def test_watch_events_update_the_index_and_notify_old_and_new_owner() -> None:
    moved = pod("a", "c2", 5)
    client = FakeClient(
        listings=[[pod("a", "c1", 1)]],
        watches=[[{"type": "MODIFIED", "object": moved}, {"type": "DELETED", "object": pod("x", "c3", 6)}]],
    )
    changes: list[tuple[str, str]] = []
    cache = informer(client, changes)
    asyncio.run(run_until(cache, lambda: cache.get("ns", "a") is not None and cache.owned("ns", "c2")))
    assert cache.owned("ns", "c1") == ()
    assert changes.count(("ns", "c1")) == 2  # listed, then moved away
    assert ("ns", "c2") in changes
    assert ("ns", "c3") not in changes  # deleting an unknown object is no change


def test_the_answer_to_a_delete_that_comes_after_the_watchs_deleted_event_does_not_bring_it_back() -> None:
    """The operator DELETEs a Pod; the node removes it at once, and the watch's DELETED event (version
    12) is read before the DELETE's own answer (the Pod, terminating, version 11) is: a ghost Pod in
    the cache would be counted for good (a suspended cluster would stay Suspending)."""
    deleted = {"type": "DELETED", "object": pod("a", "c1", 12)}
    client = FakeClient(listings=[[pod("a", "c1", 10)]], watches=[[deleted]])
    cache = informer(client, [])
    asyncio.run(run_until(cache, lambda: client.lists >= 1 and cache.get("ns", "a") is None))
    answer = pod("a", "c1", 11)
    answer["metadata"]["deletionTimestamp"] = "2026-12-03T00:00:00Z"
    cache.upsert(answer)
    assert cache.owned("ns", "c1") == ()
    cache.upsert(pod("a", "c1", 13))  # made again under the same name (a Service, say): kept
    assert [p["metadata"]["name"] for p in cache.owned("ns", "c1")] == ["a"]


def test_an_older_version_never_replaces_a_newer_one() -> None:
    cache = informer(FakeClient([[]], []), [])
    cache.upsert(pod("a", "c1", 10, phase="Running"))
    cache.upsert(pod("a", "c1", 9, phase="Pending"))
    assert podstate.phase(cache.owned("ns", "c1")[0]) == "Running"
    cache.upsert(pod("a", "c1", 11, phase="Failed"))
    assert podstate.phase(cache.owned("ns", "c1")[0]) == "Failed"


def test_identical_updates_do_not_wake_the_owner() -> None:
    changes: list[tuple[str, str]] = []
    cache = informer(FakeClient([[]], []), changes)
    cache.upsert(pod("a", "c1", 1))
    cache.upsert(pod("a", "c1", 1))
    assert changes == [("ns", "c1")]


def test_slim_pods_keep_what_the_planner_reads_and_drop_the_rest() -> None:
    full = pod("a", "c1", 1)
    full["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    slim = podstate.slim_pod(full)
    assert "managedFields" not in slim["metadata"]
    assert slim["spec"]["containers"] == [{"name": "ray-worker"}]
    assert podstate.is_ready(slim)
    assert podstate.is_terminating(slim)
    assert podstate.group(slim) is None
    assert podstate.node_type(slim) == "worker"
    assert slim["status"]["podIP"] == "198.18.0.9"


def test_the_latest_store_keeps_the_newest_version_and_ages_entries_out() -> None:
    store = LatestStore()
    assert store.put(pod("a", "c1", 5))
    assert not store.put(pod("a", "c1", 4))
    assert store.get("ns", "a")["metadata"]["resourceVersion"] == "5"  # type: ignore[index]
    assert store.fresh("ns", "a", 60) is not None
    assert store.fresh("ns", "a", -1) is None  # too old: the caller reads it again
    assert store.pop("ns", "a") is not None
    assert store.fresh("ns", "a", 60) is None
