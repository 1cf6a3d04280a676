"""A reconcile pass that raised is told on its object: a Warning Event naming the exception's type,
so that `kubectl describe` shows why the object makes no progress (the log says it too)."""

from __future__ import annotations

from raykopf.k8s.events import EventRecorder
from raykopf.k8s.store import LatestStore

REASON = "ReconcileError"


def describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:1000]


def report_failure(
    events: EventRecorder, bodies: LatestStore, kind: str, key: tuple[str, str], error: Exception
) -> None:
    raw = bodies.get(*key)
    if raw is not None:
        events.record(raw, kind, "Warning", REASON, describe(error))
