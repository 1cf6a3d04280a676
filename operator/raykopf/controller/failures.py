"""A reconcile pass that raised is told on its object: a Warning Event naming the exception's type,
so that `kubectl describe` shows why the object makes no progress (the log says it too), and the same
words on its status (`reconcile.failure` says where), taken back by the next clean pass."""

from __future__ import annotations

import datetime

from raykopf.api.registry import KINDS
from raykopf.k8s.executor import Executor
from raykopf.k8s.store import LatestStore
from raykopf.reconcile import failure

REASON = failure.REASON


def describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:1000]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def report_failure(
    executor: Executor, bodies: LatestStore, kind: str, key: tuple[str, str], error: Exception
) -> None:
    raw = bodies.get(*key)
    if raw is None:
        return
    executor.events.record(raw, kind, "Warning", REASON, describe(error))
    previous = raw.get("status") or {}
    status = failure.record(kind, previous, describe(error), _now())
    if status != previous:
        await executor.write_status(kind, raw, KINDS[kind].status.model_validate(status))


async def clear_failure(executor: Executor, bodies: LatestStore, kind: str, key: tuple[str, str]) -> None:
    """After a clean pass: the status no longer says the object fails (nothing to do mostly)."""
    raw = bodies.get(*key)
    if raw is None or raw["metadata"].get("deletionTimestamp"):
        return
    status = failure.clear(kind, raw.get("status") or {})
    if status is not None:
        await executor.write_status(kind, raw, KINDS[kind].status.model_validate(status))
