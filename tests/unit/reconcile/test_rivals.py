"""Two operators leading at once (KubeRay's Lease in one namespace, raykopf's in another) both create
Pods for the same RayCluster: raykopf finds the other one's live Lease and stands back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from raykopf.reconcile.lease import WATCH_NAMESPACES_ANNOTATION, micro_time, rivals

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)


def lease(
    namespace: str, holder: str = "kuberay-0_abc", age: float = 3, watches: str | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "ray-operator-leader", "namespace": namespace}
    if watches is not None:
        meta["annotations"] = {WATCH_NAMESPACES_ANNOTATION: watches}
    spec = {
        "holderIdentity": holder,
        "leaseDurationSeconds": 15,
        "renewTime": micro_time(NOW - timedelta(seconds=age)),
    }
    return {"metadata": meta, "spec": spec}


def test_a_live_kuberay_lease_elsewhere_is_a_rival_for_any_namespace() -> None:
    found = rivals([lease("default")], own_lease_namespace="raykopf-system", watches=["team-a"], now=NOW)
    assert [(r.namespace, r.watches) for r in found] == [("default", None)]
    assert "every namespace" in found[0].describe()


def test_our_own_lease_an_expired_one_and_a_released_one_are_not() -> None:
    leases = [lease("raykopf-system"), lease("old", age=40), lease("gone", holder="")]
    assert rivals(leases, own_lease_namespace="raykopf-system", watches=[], now=NOW) == []


def test_raykopf_installations_on_disjoint_namespaces_can_both_lead() -> None:
    other = lease("team-b-ops", watches="team-b")
    assert rivals([other], own_lease_namespace="team-a-ops", watches=["team-a"], now=NOW) == []
    assert rivals([other], own_lease_namespace="team-a-ops", watches=["team-a", "team-b"], now=NOW)
    # Watching every namespace overlaps with everything.
    assert rivals([other], own_lease_namespace="team-a-ops", watches=[], now=NOW)
    assert rivals([lease("x", watches="")], own_lease_namespace="y", watches=["team-a"], now=NOW)
