"""The work queue's retries: a refused write backs off per key (and waits for a Retry-After); an
unexpected failure is reported on the object and backs off too."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

import pytest

from raykopf.controller.workqueue import RetryLater, WorkQueue


async def run_without_waiting(
    queue: WorkQueue, done: asyncio.Event, delays: list[float] | None = None
) -> None:
    """Run key ("ns", "a") until `done`; every delay the queue chooses is noted and skipped."""

    def add_after(key: Hashable, delay: float) -> None:
        if delays is not None:
            delays.append(delay)
        queue._held.pop(key, None)  # as if the delay had passed
        queue.add(key)

    queue.add_after = add_after  # type: ignore[method-assign]
    queue.add(("ns", "a"))
    runner = asyncio.create_task(queue.run())
    await asyncio.wait_for(done.wait(), 5)
    runner.cancel()


def test_refused_writes_back_off_per_key_and_honour_retry_after(caplog: pytest.LogCaptureFixture) -> None:
    delays: list[float] = []
    reported: list[tuple[Hashable, str]] = []
    outcomes: list[Exception | None] = [
        RetryLater("FailedCreateWorkerPod: exceeded quota"),
        RetryLater("FailedCreateWorkerPod: exceeded quota"),
        RetryLater("FailedCreateWorkerPod: exceeded quota"),
        RetryLater("FailedCreateWorkerPod: too many requests", after=30),
        None,  # a pass that worked: the back-off starts over
        RetryLater("FailedCreateWorkerPod: exceeded quota"),
        ValueError("could not convert string to float: 'abc'"),
    ]

    async def main() -> None:
        done = asyncio.Event()

        async def reconcile(key: Hashable) -> float | None:
            if not outcomes:
                done.set()
                await asyncio.Event().wait()  # the test ends here
            outcome = outcomes.pop(0)
            if outcome is not None:
                raise outcome
            queue.add(key)  # as an event would
            return None

        async def on_failure(key: Hashable, error: Exception) -> None:
            reported.append((key, f"{type(error).__name__}: {error}"))

        queue = WorkQueue(reconcile, concurrency=1, on_failure=on_failure)

        await run_without_waiting(queue, done, delays)

    asyncio.run(main())
    assert delays == [0.5, 1.0, 2.0, 30.0, 0.5, 1.0]
    assert reported == [(("ns", "a"), "ValueError: could not convert string to float: 'abc'")]
    failed = [r for r in caplog.records if r.getMessage() == "reconcile failed; retrying"]
    assert [getattr(r, "error_type", None) for r in failed] == ["ValueError"]  # the log names the type


def test_a_clean_pass_takes_back_what_a_failed_one_said_and_a_broken_hook_stops_nothing() -> None:
    outcomes: list[Exception | None] = [ValueError("boom"), RetryLater("quota"), None, None]
    calls: list[str] = []

    async def main() -> None:
        done = asyncio.Event()

        async def reconcile(key: Hashable) -> float | None:
            if not outcomes:
                done.set()
                await asyncio.Event().wait()
            outcome = outcomes.pop(0)
            calls.append(f"pass {'ok' if outcome is None else type(outcome).__name__}")
            if outcome is not None:
                raise outcome
            queue.add(key)
            return None

        async def on_failure(key: Hashable, error: Exception) -> None:
            calls.append("on_failure")

        async def on_success(key: Hashable) -> None:
            calls.append("on_success")
            if len(calls) < 6:
                raise RuntimeError("the status write failed")  # the queue goes on regardless

        queue = WorkQueue(reconcile, concurrency=1, on_failure=on_failure, on_success=on_success)

        await run_without_waiting(queue, done)

    asyncio.run(main())
    # A refused write (RetryLater) has said so on the object already: neither hook runs for it.
    assert calls == [
        "pass ValueError",
        "on_failure",
        "pass RetryLater",
        "pass ok",
        "on_success",
        "pass ok",
        "on_success",
    ]


def test_events_wait_for_a_failed_keys_back_off_and_a_spec_change_cuts_only_a_back_off_short() -> None:
    """A refused create's own status write (or its Pods' events) must not bring the next pass before
    the Retry-After; a new spec may end a mere back-off at once."""
    outcomes: list[Exception | None] = [RetryLater("throttled", after=0.4), None, ValueError("boom"), None]
    passes: list[float] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()

        async def reconcile(key: Hashable) -> float | None:
            passes.append(loop.time())
            outcome = outcomes.pop(0)
            if not outcomes:
                done.set()
            if outcome is not None:
                raise outcome
            return None

        queue = WorkQueue(reconcile, concurrency=1, base_delay=5.0)
        runner = asyncio.create_task(queue.run())
        queue.add(("ns", "a"))
        await asyncio.sleep(0.05)
        queue.add(("ns", "a"))  # its status write's event
        queue.add(("ns", "a"), urgent=True)  # a new spec does not cut a Retry-After short
        while len(passes) < 2:
            await asyncio.sleep(0.01)
        queue.add(("ns", "a"))  # fails now, with a back-off of 5 s
        while len(passes) < 3:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        queue.add(("ns", "a"))  # an event: held
        await asyncio.sleep(0.1)
        assert len(passes) == 3
        queue.add(("ns", "a"), urgent=True)  # a new spec: at once
        await asyncio.wait_for(done.wait(), 1)
        runner.cancel()

    asyncio.run(main())
    assert 0.4 <= passes[1] - passes[0] < 1.0, passes
    assert passes[3] - passes[2] < 1.0
