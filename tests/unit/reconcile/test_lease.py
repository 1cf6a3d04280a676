"""Leader election rules (client-go's), as pure decisions."""

from __future__ import annotations

from datetime import UTC, datetime

from raykopf.reconcile.lease import Observed, micro_time, next_step, released

NOW = datetime(2026, 11, 26, 5, 0, 0, 123456, tzinfo=UTC)


def held_by(holder: str, transitions: int = 3, duration: int = 15) -> dict[str, object]:
    return {
        "holderIdentity": holder,
        "leaseDurationSeconds": duration,
        "acquireTime": "2026-11-26T04:00:00.000000Z",
        "renewTime": "2026-11-26T04:59:58.000000Z",
        "leaseTransitions": transitions,
    }


def test_no_lease_is_created_held_by_the_candidate() -> None:
    step = next_step(None, "a", now=NOW, monotonic=100.0, duration=15)
    assert step.acquires
    assert step.spec == {
        "holderIdentity": "a",
        "leaseDurationSeconds": 15,
        "acquireTime": "2026-11-26T05:00:00.123456Z",
        "renewTime": "2026-11-26T05:00:00.123456Z",
        "leaseTransitions": 0,
    }


def test_the_holder_renews_keeping_its_acquire_time_and_transitions() -> None:
    step = next_step(Observed(held_by("a"), 90.0), "a", now=NOW, monotonic=200.0, duration=15)
    assert not step.acquires
    assert step.spec == {**held_by("a"), "renewTime": micro_time(NOW)}


def test_a_live_lease_of_another_holder_is_left_alone() -> None:
    assert next_step(Observed(held_by("a"), 90.0), "b", now=NOW, monotonic=104.9, duration=15).spec is None


def test_a_lease_unchanged_for_its_duration_by_our_clock_is_taken_over() -> None:
    step = next_step(Observed(held_by("a"), 90.0), "b", now=NOW, monotonic=105.0, duration=15)
    assert step.acquires
    assert step.spec is not None
    assert step.spec["holderIdentity"] == "b"
    assert step.spec["leaseTransitions"] == 4
    assert step.spec["acquireTime"] == micro_time(NOW)


def test_a_released_lease_is_taken_at_once() -> None:
    free = released(held_by("a"), "a", NOW)
    assert free is not None
    assert free["holderIdentity"] == ""
    assert free["leaseDurationSeconds"] == 1
    step = next_step(Observed(free, 100.0), "b", now=NOW, monotonic=100.0, duration=15)
    assert step.acquires
    assert step.spec is not None
    assert step.spec["holderIdentity"] == "b"


def test_only_the_holder_releases() -> None:
    assert released(held_by("a"), "b", NOW) is None
