"""Spec hashes that decide whether running Pods are out of date (pure)."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

# Fields the autoscaler or the scheduler change without making the Pods' spec stale.
_GROUP_SCALE_FIELDS = ("replicas", "minReplicas", "maxReplicas")
_POD_SCHEDULING_FIELDS = ("tolerations", "schedulingGates")


def _forget_scheduling(template: dict[str, Any] | None) -> None:
    spec = (template or {}).get("spec") or {}
    for key in _POD_SCHEDULING_FIELDS:
        spec.pop(key, None)


def recreate_hash(spec: dict[str, Any]) -> str:
    """KubeRay's `upgradeStrategy: Recreate` hash: the cluster spec without replicas, min, max,
    workersToDelete, tolerations, schedulingGates and the upgrade strategy itself."""
    return _hash(spec, ("upgradeStrategy",))


def rayservice_hash(spec: dict[str, Any]) -> str:
    """KubeRay's RayService cluster hash (`ray.io/hash-without-replicas-and-workers-to-delete`): the same
    fields ignored, and `suspend` too, so the autoscaler and suspending never start an upgrade."""
    return _hash(spec, ("upgradeStrategy", "suspend"))


def _without_empty(value: Any) -> Any:
    """The value without empty objects, empty lists and nulls at any depth: Go writes an omitted
    struct as `{}` (KubeRay's copy of a spec has `metadata: {}`, `resources: {}`, `scaleStrategy:
    {}`), and both mean the same spec."""
    if isinstance(value, dict):
        kept = {key: _without_empty(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in ({}, [], None)}
    if isinstance(value, list):
        return [_without_empty(item) for item in value]
    return value


def _hash(spec: dict[str, Any], ignored: tuple[str, ...]) -> str:
    spec = _without_empty(copy.deepcopy(spec))
    for key in ignored:
        spec.pop(key, None)
    _forget_scheduling((spec.get("headGroupSpec") or {}).get("template"))
    for group in spec.get("workerGroupSpecs") or []:
        for key in (*_GROUP_SCALE_FIELDS, *ignored):
            group.pop(key, None)
        strategy = group.get("scaleStrategy") or {}
        strategy.pop("workersToDelete", None)
        if not strategy:
            group.pop("scaleStrategy", None)
        _forget_scheduling(group.get("template"))
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(canonical.encode(), usedforsecurity=False).hexdigest()
