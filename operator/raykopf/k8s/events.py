"""events.k8s.io/v1 Events with KubeRay's reason strings, recorded off the reconcile path.

`record` never waits for the apiserver: events go through a bounded queue drained by a few background
posters, each namespace in turn, so that a burst of events (500 "CreatedWorkerPod") cannot slow down the Pod creates that
caused them. As client-go's recorder does, each object gets a burst of 25 events and then one per
5 minutes; the rest are dropped (and counted in the log), never retried.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from raykopf.k8s.client import KubeClient

log = logging.getLogger("raykopf")
CONTROLLER = "ray.io/raykopf-operator"
BURST = 25
REFILL_SECONDS = 300.0
QUEUE_LIMIT = 10_000
DROPS_LOG_SECONDS = 10.0
POSTERS = 2
# All events together, while the client is busy (less than half its burst left): at most this many per
# second (bursts of BURST_ALL), queued rather than competing with Pod creates for the apiserver during a
# large scale-up. When it is not, events go out at once (each one still counts against its limit).
EVENTS_PER_SECOND = 5.0
BURST_ALL = 50

_ACTIONS = (("Created", "Create"), ("Deleted", "Delete"), ("FailedToCreate", "Create"))


def action_of(reason: str) -> str:
    for prefix, action in _ACTIONS:
        if reason.startswith(prefix):
            return action
    if "Delete" in reason:
        return "Delete"
    return "Validate" if reason.startswith("Invalid") else "Reconcile"


def build_event(
    obj: dict[str, Any],
    kind: str,
    event_type: str,
    reason: str,
    note: str,
    *,
    instance: str,
    now: datetime.datetime,
) -> dict[str, Any]:
    meta = obj["metadata"]
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": meta["namespace"]},
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "reportingController": CONTROLLER,
        "reportingInstance": instance,
        "regarding": {
            "apiVersion": obj.get("apiVersion", "ray.io/v1"),
            "kind": kind,
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "type": event_type,
        "reason": reason,
        "action": action_of(reason),
        "note": note[:1024],
    }


@dataclass
class _Bucket:
    """A token bucket: `rate` tokens a second, at most `burst`, starting full."""

    burst: float
    rate: float
    stamp: float
    tokens: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def refill(self, now: float) -> float:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return self.tokens


class FairQueue:
    """Events waiting to be posted, one namespace's at a time in turn: a namespace with thousands of
    events waiting delays another namespace's next event by one event each, not by thousands. Each
    namespace may hold a tenth of the whole; beyond, its events are refused (QueueFull)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.per_namespace = limit, max(limit // 10, 1)
        self._waiting: dict[str, collections.deque[dict[str, Any]]] = {}
        self._turns: collections.deque[str] = collections.deque()  # namespaces with events, in turn
        self._available = asyncio.Semaphore(0)
        self._size = self._unfinished = 0
        self._finished = asyncio.Event()
        self._finished.set()

    def qsize(self) -> int:
        return self._size

    def has_room(self, namespace: str) -> bool:
        waiting = self._waiting.get(namespace)
        return self._size < self.limit and (waiting is None or len(waiting) < self.per_namespace)

    def put_nowait(self, event: dict[str, Any]) -> None:
        namespace = event["metadata"]["namespace"]
        if not self.has_room(namespace):
            raise asyncio.QueueFull
        waiting = self._waiting.get(namespace)
        if waiting is None:
            waiting = self._waiting[namespace] = collections.deque()
            self._turns.append(namespace)
        waiting.append(event)
        self._size += 1
        self._unfinished += 1
        self._finished.clear()
        self._available.release()

    async def get(self) -> dict[str, Any]:
        await self._available.acquire()
        namespace = self._turns.popleft()
        waiting = self._waiting[namespace]
        event = waiting.popleft()
        if waiting:
            self._turns.append(namespace)  # its next event waits for every other namespace's turn
        else:
            del self._waiting[namespace]
        self._size -= 1
        return event

    def task_done(self) -> None:
        self._unfinished -= 1
        if self._unfinished == 0:
            self._finished.set()

    async def join(self) -> None:
        await self._finished.wait()


@dataclass
class EventRecorder:
    client: KubeClient
    instance: str = "raykopf"
    _queue: FairQueue = field(default_factory=lambda: FairQueue(QUEUE_LIMIT))
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _global: _Bucket | None = None
    dropped: int = 0
    # Events refused by a full queue since the last line that said so: one line per interval, not one
    # per event, when thousands of Pods are created at once.
    _full_since_said: int = 0
    _full_said_at: float = -DROPS_LOG_SECONDS

    def record(self, obj: dict[str, Any], kind: str, event_type: str, reason: str, note: str) -> None:
        # Warnings have a budget of their own: routine Normal events must never silence them.
        if not self._allow(f"{obj['metadata'].get('uid') or obj['metadata']['name']}/{event_type}"):
            self.dropped += 1
            return
        if not self._queue.has_room(obj["metadata"]["namespace"]):
            self.dropped += 1
            self._full_since_said += 1
            self._say_drops(reason)
            return
        now = datetime.datetime.now(datetime.UTC)
        self._queue.put_nowait(
            build_event(obj, kind, event_type, reason, note, instance=self.instance, now=now)
        )

    def _say_drops(self, reason: str) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._full_said_at >= DROPS_LOG_SECONDS:
            log.warning(
                "events dropped: queue full", extra={"dropped": self._full_since_said, "reason": reason}
            )
            self._full_said_at, self._full_since_said = now, 0

    def _allow(self, key: str) -> bool:
        now = asyncio.get_running_loop().time()
        if len(self._buckets) > QUEUE_LIMIT:  # forget objects whose bucket has refilled anyway
            idle = BURST * REFILL_SECONDS
            self._buckets = {k: b for k, b in self._buckets.items() if now - b.stamp < idle}
        bucket = self._buckets.setdefault(key, _Bucket(BURST, 1 / REFILL_SECONDS, now))
        if bucket.refill(now) < 1:
            return False
        bucket.tokens -= 1
        return True

    async def run(self) -> None:
        posters = [asyncio.create_task(self._post()) for _ in range(POSTERS)]
        try:
            await asyncio.gather(*posters)
        finally:
            for task in posters:
                task.cancel()

    async def _pace(self) -> None:
        rate = getattr(self.client, "rate", None)
        if rate is not None and rate.spare():
            return  # the client is idle: the backlog goes out now, not minutes after what it reports
        now = asyncio.get_running_loop().time()
        bucket = self._global = self._global or _Bucket(BURST_ALL, EVENTS_PER_SECOND, now)
        bucket.refill(now)
        bucket.tokens -= 1  # may go into debt: the poster then waits it off
        if bucket.tokens < 0:
            await asyncio.sleep(-bucket.tokens / EVENTS_PER_SECOND)

    async def _post(self) -> None:
        while True:
            event = await self._queue.get()
            await self._pace()
            try:
                path = f"/apis/events.k8s.io/v1/namespaces/{event['metadata']['namespace']}/events"
                await self.client.create(path, event)
            except Exception as error:  # best effort: a lost event must not stop the posters
                log.warning("event not posted", extra={"reason": event["reason"], "error": str(error)[:200]})
            finally:
                self._queue.task_done()

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait (bounded) until queued events are posted; used on shutdown and in tests."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except TimeoutError:
            log.warning("events not flushed", extra={"pending": self._queue.qsize()})
