"""Leader election on a `coordination.k8s.io/v1` Lease (pure): what a candidate writes next.

The rules are client-go's: a holder renews; anyone takes a Lease that is free or whose record has not
changed for `leaseDurationSeconds` as seen by the candidate's own clock (so clocks need not agree);
a holder that stops releases it so that a standby takes over at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


def micro_time(moment: datetime) -> str:
    """Kubernetes' MicroTime: RFC 3339 with microseconds, UTC."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Observed:
    """A Lease's spec as last read, and when (by the candidate's monotonic clock) it last changed."""

    spec: dict[str, Any]
    changed_at: float


@dataclass(frozen=True)
class LeaseStep:
    """`spec` to write (None: nothing to write, someone else holds a live Lease)."""

    spec: dict[str, Any] | None
    acquires: bool = False


def next_step(
    observed: Observed | None, identity: str, *, now: datetime, monotonic: float, duration: int
) -> LeaseStep:
    if observed is None:  # no Lease yet: create it
        return LeaseStep(_held(identity, now, duration, transitions=0, acquired=now), acquires=True)
    spec = observed.spec
    holder = spec.get("holderIdentity") or ""
    transitions = int(spec.get("leaseTransitions") or 0)
    if holder == identity:
        renewed = {**spec, "renewTime": micro_time(now), "leaseDurationSeconds": duration}
        return LeaseStep(renewed)
    expired = monotonic - observed.changed_at >= float(spec.get("leaseDurationSeconds") or duration)
    if not holder or expired:
        return LeaseStep(_held(identity, now, duration, transitions + 1, acquired=now), acquires=True)
    return LeaseStep(None)


def released(spec: dict[str, Any], identity: str, now: datetime) -> dict[str, Any] | None:
    """What a stopping holder writes so that a standby need not wait out the duration (client-go's
    ReleaseOnCancel); None when it does not hold the Lease."""
    if spec.get("holderIdentity") != identity:
        return None
    return {**spec, "holderIdentity": "", "leaseDurationSeconds": 1, "renewTime": micro_time(now)}


def _held(
    identity: str, now: datetime, duration: int, transitions: int, acquired: datetime
) -> dict[str, Any]:
    return {
        "holderIdentity": identity,
        "leaseDurationSeconds": duration,
        "acquireTime": micro_time(acquired),
        "renewTime": micro_time(now),
        "leaseTransitions": transitions,
    }
