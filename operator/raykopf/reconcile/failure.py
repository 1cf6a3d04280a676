"""Where a failed reconcile pass is told on an object's status, and taken back by the next clean
pass. Only fields that KubeRay's CRDs keep, so the words survive either operator's schema:

- RayCluster: `status.reason` (KubeRay's "why it is not ready"; cleared once the cluster is ready).
- RayJob: `status.message`, unless it already says something else (a failed job's message is kept);
  `status.reason` is left alone, since KubeRay's values there mean the job failed for good.
- RayService: a `ReconcileFailure` condition, beside `Ready` (a running service keeps serving).
"""

from __future__ import annotations

import copy
from typing import Any

from raykopf.reconcile import conditions as cond
from raykopf.reconcile.status import REASON_LIMIT

REASON = "ReconcileError"  # also the Warning Event's reason
PREFIX = f"{REASON}: "
CONDITION = "ReconcileFailure"


def record(kind: str, status: dict[str, Any], text: str, now: str) -> dict[str, Any]:
    """`status` with `text` (what went wrong) written where `kind` shows it."""
    status = copy.deepcopy(status)
    words = f"{PREFIX}{text}"[:REASON_LIMIT]
    if kind == "RayCluster":
        status["reason"] = words
    elif kind == "RayJob":
        if not status.get("message") or str(status["message"]).startswith(PREFIX):
            status["message"] = words
    elif kind == "RayService":
        conditions = status.setdefault("conditions", [])
        cond.set_condition(conditions, CONDITION, True, REASON, text[:REASON_LIMIT], now)
    else:
        raise ValueError(f"no failure status for kind {kind!r}")
    return status


def clear(kind: str, status: dict[str, Any]) -> dict[str, Any] | None:
    """`status` without what `record` wrote; None when it holds nothing of it."""
    field = {"RayCluster": "reason", "RayJob": "message"}.get(kind)
    if field is not None:
        if not str(status.get(field) or "").startswith(PREFIX):
            return None
        status = copy.deepcopy(status)
        del status[field]
        return status
    if cond.find(status.get("conditions") or [], CONDITION) is None:
        return None
    status = copy.deepcopy(status)
    cond.remove(status["conditions"], CONDITION)
    if not status["conditions"]:
        del status["conditions"]  # as it was before `record`
    return status
