"""A work queue in the manner of client-go's: keys are deduplicated, one key is never processed twice at
once, keys run concurrently up to a limit, failures are retried with exponential back-off, and every
known key is resynced periodically."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable

from raykopf.reconcile.actions import RetryLater

log = logging.getLogger("raykopf")

Reconcile = Callable[[Hashable], Awaitable[float | None]]
OnFailure = Callable[[Hashable, Exception], Awaitable[None]]
OnSuccess = Callable[[Hashable], Awaitable[None]]


class WorkQueue:
    def __init__(
        self,
        reconcile: Reconcile,
        *,
        concurrency: int = 10,
        base_delay: float = 0.5,
        max_delay: float = 60.0,
        resync_seconds: float = 300.0,
        on_failure: OnFailure | None = None,
        on_success: OnSuccess | None = None,
    ) -> None:
        self._reconcile = reconcile
        self._on_failure = on_failure
        self._on_success = on_success
        self._concurrency = concurrency
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._resync_seconds = resync_seconds
        self._queue: asyncio.Queue[Hashable] = asyncio.Queue()
        self._queued: set[Hashable] = set()
        self._processing: set[Hashable] = set()
        self._dirty: dict[Hashable, bool] = {}  # run once more after the current pass (urgently?)
        self._failures: dict[Hashable, int] = {}
        self._timers: dict[Hashable, asyncio.TimerHandle] = {}
        # A failed key is held until its back-off ends, and never let go before a Retry-After ends:
        # (back-off end, Retry-After end) in loop time. Events about the key (its own status writes,
        # its Pods) wait too.
        self._held: dict[Hashable, tuple[float, float]] = {}
        self.known: set[Hashable] = set()

    def add(self, key: Hashable, *, urgent: bool = False) -> None:
        """Queue `key`; while it is held after a failure, only when the hold ends. `urgent` (a change
        of the object's spec) cuts a back-off short, never a Retry-After."""
        self.known.add(key)
        held = self._held.get(key)
        if held is not None:
            if urgent:  # the back-off is over; a Retry-After is not
                held = self._held[key] = (held[1], held[1])
            left = max(held) - asyncio.get_running_loop().time()
            if left > 0:
                self.add_after(key, left)
                return
            del self._held[key]
        if key in self._processing:
            self._dirty[key] = self._dirty.get(key, False) or urgent
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def add_after(self, key: Hashable, delay: float) -> None:
        timer = self._timers.get(key)
        due = asyncio.get_running_loop().time() + delay
        if timer is not None and timer.when() <= due:
            return  # an earlier retry is already scheduled
        if timer is not None:
            timer.cancel()
        self._timers[key] = asyncio.get_running_loop().call_later(delay, self._fire, key)

    def forget(self, key: Hashable) -> None:
        self.known.discard(key)
        self._failures.pop(key, None)
        self._held.pop(key, None)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def _fire(self, key: Hashable) -> None:
        self._timers.pop(key, None)
        self.add(key)  # still held (an earlier timer): add() sets one for the hold's end

    def _hold(self, key: Hashable, backoff: float, retry_after: float = 0.0) -> None:
        now = asyncio.get_running_loop().time()
        self._held[key] = (now + backoff, now + retry_after)
        self.add_after(key, max(backoff, retry_after))

    @property
    def depth(self) -> int:
        """Keys waiting for a worker (client-go's queue depth; those being reconciled not counted)."""
        return len(self._queued)

    def __len__(self) -> int:
        return len(self._queued) + len(self._processing)

    async def run(self) -> None:
        workers = [asyncio.create_task(self._worker()) for _ in range(self._concurrency)]
        resync = asyncio.create_task(self._resync())
        try:
            await asyncio.gather(*workers, resync)
        finally:
            for task in (*workers, resync):
                task.cancel()

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self._resync_seconds)
            for key in list(self.known):
                self.add(key)

    def _backoff(self, key: Hashable) -> float:
        """The next delay of a failing key: doubling from base_delay up to max_delay."""
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        return float(min(self._base_delay * 2 ** (failures - 1), self._max_delay))

    async def _worker(self) -> None:
        while True:
            key = await self._queue.get()
            self._queued.discard(key)
            self._processing.add(key)
            try:
                requeue = await self._reconcile(key)
            except asyncio.CancelledError:
                raise
            except RetryLater as later:
                backoff = self._backoff(key)
                log.info(
                    "reconcile to be retried",
                    extra={
                        "key": str(key),
                        "why": str(later)[:300],
                        "retry_in": max(backoff, later.after or 0.0),
                    },
                )
                self._hold(key, backoff, later.after or 0.0)
            except Exception as error:
                delay = self._backoff(key)
                log.warning(
                    "reconcile failed; retrying",
                    extra={
                        "key": str(key),
                        "error_type": type(error).__name__,
                        "error": str(error)[:300],
                        "retry_in": delay,
                    },
                )
                self._hold(key, delay, getattr(error, "retry_after", None) or 0.0)
                if self._on_failure is not None:
                    with contextlib.suppress(Exception):  # reporting must never stop the worker
                        await self._on_failure(key, error)
            else:
                self._failures.pop(key, None)
                self._held.pop(key, None)
                if requeue is not None:
                    self.add_after(key, requeue)
                if self._on_success is not None:
                    try:
                        await self._on_success(key)
                    except Exception as error:  # the next pass tries again
                        log.warning(
                            "could not clear a reported failure",
                            extra={
                                "key": str(key),
                                "error_type": type(error).__name__,
                                "error": str(error)[:300],
                            },
                        )
            finally:
                self._processing.discard(key)
                if key in self._dirty:
                    self.add(key, urgent=self._dirty.pop(key))
