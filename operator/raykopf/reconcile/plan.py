"""What a reconcile pass decided to do; executed by `raykopf.k8s`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MIN_REQUEUE_SECONDS = 0.5


def sooner(current: float | None, seconds: float) -> float:
    """The earlier of two requeue delays (never below half a second: no hot loop)."""
    seconds = max(seconds, MIN_REQUEUE_SECONDS)
    return seconds if current is None else min(current, seconds)


@dataclass(frozen=True)
class Create:
    body: dict[str, Any]
    reason: str
    """Event reason on success (KubeRay's), e.g. CreatedWorkerPod."""


@dataclass(frozen=True)
class Delete:
    kind: str
    namespace: str
    name: str
    reason: str


@dataclass(frozen=True)
class Patch:
    """A JSON merge patch of a child object (e.g. refreshing the head Pod's annotations)."""

    kind: str
    namespace: str
    name: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class Plan:
    creates: list[Create] = field(default_factory=list)
    deletes: list[Delete] = field(default_factory=list)
    patches: list[Patch] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    status: dict[str, Any] | None = None
    """The whole new status, or None when nothing worth writing changed."""
    requeue_after: float | None = None
    truncated: bool = False
    """More Pods are missing than one pass creates: the next pass goes on at once."""
