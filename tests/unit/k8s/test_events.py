"""events.k8s.io/v1 events: the body KubeRay's recorder posts, the per-object spam filter, the queue."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

import pytest

from raykopf.k8s.events import BURST, BURST_ALL, EventRecorder, FairQueue, _Bucket, action_of, build_event

CLUSTER = {"apiVersion": "ray.io/v1", "metadata": {"name": "c1", "namespace": "ns", "uid": "u1"}}


class Recording:
    def __init__(self) -> None:
        self.posted: list[tuple[str, dict[str, Any]]] = []

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        self.posted.append((path, body))
        return body


def test_event_body_is_events_k8s_io_v1_regarding_the_object() -> None:
    now = datetime.datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=datetime.UTC)
    event = build_event(
        CLUSTER, "RayCluster", "Normal", "CreatedWorkerPod", "Created Pod ns/p", instance="i", now=now
    )
    assert event["apiVersion"] == "events.k8s.io/v1"
    assert event["regarding"] == {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "name": "c1",
        "namespace": "ns",
        "uid": "u1",
        "resourceVersion": None,
    }
    assert (event["reason"], event["action"], event["note"]) == (
        "CreatedWorkerPod",
        "Create",
        "Created Pod ns/p",
    )
    assert event["eventTime"] == "2026-11-25T12:00:00.123456Z"
    assert event["metadata"]["name"].startswith("c1.")


def test_actions_follow_the_reason() -> None:
    assert action_of("DeletedWorkerPod") == "Delete"
    assert action_of("FailedToDeleteWorkerPod") == "Delete"
    assert action_of("InvalidRayClusterSpec") == "Validate"
    assert action_of("ForceDeletedStuckCluster") == "Delete"


def test_recording_returns_at_once_and_posts_in_the_background_with_a_burst_limit() -> None:
    async def scenario() -> tuple[Recording, EventRecorder]:
        client = Recording()
        recorder = EventRecorder(client)  # type: ignore[arg-type]
        poster = asyncio.create_task(recorder.run())
        for i in range(BURST + 5):
            recorder.record(CLUSTER, "RayCluster", "Normal", "CreatedWorkerPod", f"Created Pod ns/p{i}")
        other = {**CLUSTER, "metadata": {**CLUSTER["metadata"], "uid": "u2", "name": "c2"}}
        recorder.record(other, "RayCluster", "Normal", "CreatedHeadPod", "Created Pod ns/h")
        recorder.record(CLUSTER, "RayCluster", "Warning", "FailedToCreateWorkerPod", "quota exceeded")
        await recorder.flush()
        poster.cancel()
        return client, recorder

    client, recorder = asyncio.run(scenario())
    # Neither the other object nor the first one's Warning is starved by the first one's Normal burst.
    assert len(client.posted) == BURST + 2
    assert [b["reason"] for _, b in client.posted if b["type"] == "Warning"] == ["FailedToCreateWorkerPod"]
    assert recorder.dropped == 5
    assert all(path == "/apis/events.k8s.io/v1/namespaces/ns/events" for path, _ in client.posted)


def test_the_token_bucket_starts_full_and_refills_at_its_rate_up_to_the_burst() -> None:

    bucket = _Bucket(burst=2, rate=0.5, stamp=0.0)
    assert bucket.refill(0.0) == 2
    bucket.tokens = -1  # the global pacer may run into debt
    assert bucket.refill(4.0) == 1  # 2 s per token
    assert bucket.refill(100.0) == 2  # never above the burst


def test_a_noisy_namespace_waits_its_turn_and_cannot_fill_the_queue() -> None:
    async def main() -> None:
        queue = FairQueue(limit=100)
        for number in range(10):
            queue.put_nowait(_event("noisy", number))
        with pytest.raises(asyncio.QueueFull):  # a tenth of the whole per namespace
            queue.put_nowait(_event("noisy", 10))
        queue.put_nowait(_event("quiet", 0))
        queue.put_nowait(_event("other", 0))
        order = [(await queue.get())["metadata"]["namespace"] for _ in range(4)]
        assert order == ["noisy", "quiet", "other", "noisy"]  # the quiet ones come second and third
        for _ in range(4):
            queue.task_done()
        flushing = asyncio.create_task(queue.join())
        await asyncio.sleep(0)
        assert not flushing.done()  # 8 of noisy's still wait
        for _ in range(8):
            await queue.get()
            queue.task_done()
        await asyncio.wait_for(flushing, 1)
        assert queue.qsize() == 0

    asyncio.run(main())


def _event(namespace: str, number: int) -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": f"e{number}"}}


def test_events_refused_by_a_full_queue_are_counted_and_said_in_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Thousands of Pods created at once must not write a log line per event they could not report."""

    async def scenario() -> EventRecorder:
        recorder = EventRecorder(Recording(), _queue=FairQueue(limit=10))  # type: ignore[arg-type]
        for i in range(200):  # a namespace holds a tenth of the queue: 1 event, then it is full
            other = {**CLUSTER, "metadata": {**CLUSTER["metadata"], "uid": f"u{i}", "name": f"c{i}"}}
            recorder.record(other, "RayCluster", "Normal", "CreatedHeadPod", "Created Pod ns/h")
        return recorder

    with caplog.at_level("WARNING", logger="raykopf"):
        recorder = asyncio.run(scenario())
    assert recorder.dropped == 199
    assert [r.getMessage() for r in caplog.records] == ["events dropped: queue full"]


class WithRate(Recording):
    def __init__(self, rate: Any) -> None:
        super().__init__()
        self.rate = rate


def _record_for(recorder: EventRecorder, objects: int) -> None:
    for i in range(objects):
        other = {**CLUSTER, "metadata": {**CLUSTER["metadata"], "uid": f"u{i}", "name": f"c{i}"}}
        recorder.record(other, "RayCluster", "Normal", "CreatedHeadPod", "Created Pod ns/h")


def test_while_the_client_is_idle_a_backlog_goes_out_at_once_and_while_busy_at_the_pace() -> None:
    """A bulk create queues thousands of events; once the creates are done, they must not trickle out
    at 5 a second for minutes after what they report."""
    from raykopf.k8s.client import RateLimit

    async def scenario(rate: RateLimit, timeout: float) -> int:
        client = WithRate(rate)
        recorder = EventRecorder(client)  # type: ignore[arg-type]
        poster = asyncio.create_task(recorder.run())
        _record_for(recorder, 200)
        await recorder.flush(timeout)
        poster.cancel()
        return len(client.posted)

    assert asyncio.run(scenario(RateLimit(100, 200), timeout=10)) == 200  # a full bucket: idle
    busy = RateLimit(1, 200)
    busy._tokens = 0  # every token just spent on creates
    assert BURST_ALL <= asyncio.run(scenario(busy, timeout=0.3)) <= BURST_ALL + 3
