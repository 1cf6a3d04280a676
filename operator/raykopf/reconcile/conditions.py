"""metav1.Condition helpers: set a condition, keeping its transition time when the status holds."""

from __future__ import annotations

from typing import Any


def set_condition(
    conditions: list[dict[str, Any]],
    kind: str,
    status: bool | str,
    reason: str,
    message: str,
    now: str,
    generation: int | None = None,
) -> None:
    value = status if isinstance(status, str) else ("True" if status else "False")  # or "Unknown"
    current = find(conditions, kind)
    fresh: dict[str, Any] = {
        "type": kind,
        "status": value,
        "reason": reason,
        "message": message,
        "lastTransitionTime": now,
    }
    if generation is not None:
        fresh["observedGeneration"] = generation
    if current is None:
        conditions.append(fresh)
        return
    if current.get("status") == value:
        fresh["lastTransitionTime"] = current.get("lastTransitionTime", now)
    current.clear()
    current.update(fresh)


def find(conditions: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((cond for cond in conditions if cond.get("type") == kind), None)


def is_true(conditions: list[dict[str, Any]], kind: str) -> bool:
    return any(cond.get("type") == kind and cond.get("status") == "True" for cond in conditions)


def remove(conditions: list[dict[str, Any]], kind: str) -> None:
    conditions[:] = [cond for cond in conditions if cond.get("type") != kind]
