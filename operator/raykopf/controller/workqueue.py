"""A work queue in the manner of client-go's: keys are deduplicated, one key is never processed twice at
once, keys run concurrently up to a limit, failures are retried with exponential back-off, and every
known key is resynced periodically."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger("raykopf")

Reconcile = Callable[[Hashable], Awaitable[float | None]]
OnFailure = Callable[[Hashable, Exception], Awaitable[None]]
OnSuccess = Callable[[Hashable], Awaitable[None]]


class RetryLater(Exception):
    """A pass that could not do what it must (a create refused: quota, a 422, a 429) and has said so on
    the object: retried with the key's back-off, and not before `after` seconds (a Retry-After)."""

    def __init__(self, message: str, *, after: float | None = None) -> None:
        super().__init__(message)
        self.after = after


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
        self._dirty: set[Hashable] = set()
        self._failures: dict[Hashable, int] = {}
        self._timers: dict[Hashable, asyncio.TimerHandle] = {}
        self.known: set[Hashable] = set()

    def add(self, key: Hashable) -> None:
        self.known.add(key)
        if key in self._processing:
            self._dirty.add(key)  # run once more after the current pass
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
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def _fire(self, key: Hashable) -> None:
        self._timers.pop(key, None)
        self.add(key)

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
                delay = max(self._backoff(key), later.after or 0.0)
                log.info(
                    "reconcile to be retried",
                    extra={"key": str(key), "why": str(later)[:300], "retry_in": delay},
                )
                self.add_after(key, delay)
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
                self.add_after(key, delay)
                if self._on_failure is not None:
                    with contextlib.suppress(Exception):  # reporting must never stop the worker
                        await self._on_failure(key, error)
            else:
                self._failures.pop(key, None)
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
                    self._dirty.discard(key)
                    self.add(key)
