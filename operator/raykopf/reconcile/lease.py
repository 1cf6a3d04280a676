"""Leader election on a `coordination.k8s.io/v1` Lease (pure): what a candidate writes next.

The rules are client-go's: a holder renews; anyone takes a Lease that is free or whose record has not
changed for `leaseDurationSeconds` as seen by the candidate's own clock (so clocks need not agree);
a holder that stops releases it so that a standby takes over at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


# Written on raykopf's own Lease: the namespaces it watches ("" for all), so that another raykopf
# can tell whether the two overlap. A Lease without it (KubeRay's) may watch every namespace.
WATCH_NAMESPACES_ANNOTATION = "raykopf.io/watch-namespaces"


@dataclass(frozen=True)
class Rival:
    """Another operator that leads through a `ray-operator-leader` Lease in another namespace."""

    namespace: str
    holder: str
    watches: frozenset[str] | None  # None: every namespace
    lease: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def describe(self) -> str:
        scope = ", ".join(sorted(self.watches)) if self.watches else "every namespace"
        return f"Lease {self.namespace}/{self.holder or '?'} (watching {scope})"


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def rivals(
    leases: list[dict[str, Any]], *, own_lease_namespace: str, watches: list[str], now: datetime
) -> list[Rival]:
    """The held Leases of other operators whose watched namespaces overlap `watches` (empty: all).

    A Lease counts as held while its holder is set and its renewTime is within its duration of
    `now` (the same test as a candidate's, on the holder's own timestamps)."""
    found = []
    for lease in leases:
        meta, spec = lease.get("metadata") or {}, lease.get("spec") or {}
        if meta.get("namespace") == own_lease_namespace or not spec.get("holderIdentity"):
            continue
        renewed = _parse_time(str(spec.get("renewTime") or ""))
        duration = float(spec.get("leaseDurationSeconds") or 15)
        if renewed is None or (now - renewed).total_seconds() > duration:
            continue
        annotation = (meta.get("annotations") or {}).get(WATCH_NAMESPACES_ANNOTATION)
        theirs = frozenset(n for n in annotation.split(",") if n) if annotation else None
        if theirs is not None and watches and not theirs & set(watches):
            continue
        found.append(Rival(str(meta.get("namespace")), str(spec["holderIdentity"]), theirs, lease))
    return found
