"""The CRDs' transition rules (`self == oldSelf`): an update that changes `managedBy` or the GCS
fault-tolerance backend gets the apiserver's message, as KubeRay v1.7's CRDs word it."""

from __future__ import annotations

import copy
from typing import Any

from raykopf.crdgen import render
from raykopf.validation import _TRANSITIONS, validate_update
from tests.unit.validation.manifests import raycluster, rayjob, rayservice

IMMUTABLE_MANAGED_BY = "the managedBy field is immutable"
IMMUTABLE_BACKEND = "gcsFaultToleranceOptions.backend is immutable"


def _errors(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [str(p) for p in validate_update(old, new) if p.is_error]


def test_changing_managed_by_is_refused_at_every_level() -> None:
    for base, path in (
        (raycluster, ("spec",)),
        (rayjob, ("spec",)),
        (rayjob, ("spec", "rayClusterSpec")),
        (rayservice, ("spec",)),
        (rayservice, ("spec", "rayClusterConfig")),
    ):
        old = base()
        node = old
        for key in path:
            node = node[key]
        node["managedBy"] = "ray.io/kuberay-operator"
        new = copy.deepcopy(old)
        target = new
        for key in path:
            target = target[key]
        target["managedBy"] = "kueue.x-k8s.io/multikueue"
        assert _errors(old, new) == [f"{'.'.join(path)}.managedBy: {IMMUTABLE_MANAGED_BY}"]


def test_the_backend_is_immutable_but_may_be_set_where_it_was_unset() -> None:
    old = raycluster()
    new = copy.deepcopy(old)
    new["spec"]["gcsFaultToleranceOptions"] = {"backend": "rocksdb"}
    assert _errors(old, new) == []  # a transition rule applies only where both versions have the field
    newer = copy.deepcopy(new)
    newer["spec"]["gcsFaultToleranceOptions"]["backend"] = "redis"
    assert f"spec.gcsFaultToleranceOptions.backend: {IMMUTABLE_BACKEND}" in _errors(new, newer)


def test_an_unchanged_object_has_no_transition_problem() -> None:
    old = raycluster()
    old["spec"]["managedBy"] = "ray.io/kuberay-operator"
    assert _errors(old, copy.deepcopy(old)) == []


def test_every_transition_rule_in_the_generated_crds_is_checked_on_updates() -> None:
    """The rules' places in the CRDs and in `validate_update` agree (a rule added to a model without a
    check, or the other way round, fails here)."""

    def transition_paths(
        schema: dict[str, Any], path: tuple[str, ...] = ()
    ) -> set[tuple[tuple[str, ...], str]]:
        found = {
            (path, r["message"])
            for r in schema.get("x-kubernetes-validations") or []
            if "oldSelf" in r["rule"]
        }
        for name, child in (schema.get("properties") or {}).items():
            found |= transition_paths(child, (*path, name))
        return found

    for kind, checked in _TRANSITIONS.items():
        v1 = next(v for v in render(kind)["spec"]["versions"] if v["name"] == "v1")
        assert transition_paths(v1["schema"]["openAPIV3Schema"]) == {(p, rule.message) for p, rule in checked}
