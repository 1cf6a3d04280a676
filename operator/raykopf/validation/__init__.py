"""Validation of ray.io manifests as a pure function: `validate(manifest) -> [Problem]`.

Used by the operator (problems go to the object's status and events) and by `raykopf validate`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from raykopf import constants
from raykopf.api import RayCluster, RayJob, RayService, cel
from raykopf.api.base import ApiModel
from raykopf.validation.problems import Problem, Severity
from raykopf.validation.rules import Gates, check_raycluster, check_rayjob, check_rayservice
from raykopf.validation.structure import check_depth, check_null_items, check_structure, parse

_CHECKS: dict[str, tuple[type[ApiModel], Callable[[Any, Gates], list[Problem]]]] = {
    "RayCluster": (RayCluster, check_raycluster),
    "RayJob": (RayJob, check_rayjob),
    "RayService": (RayService, check_rayservice),
}
KINDS = tuple(_CHECKS)


def validate(manifest: Any, gates: Gates | None = None) -> list[Problem]:
    """Every problem in a RayCluster, RayJob or RayService manifest; errors first, then warnings."""
    if not isinstance(manifest, dict):
        return [Problem("", f"expected a mapping (a Kubernetes object), got {type(manifest).__name__}")]
    kind = manifest.get("kind")
    if not isinstance(kind, str) or kind not in _CHECKS:
        return [Problem("kind", f"expected one of {list(KINDS)}, got {kind!r}")]
    api_version = manifest.get("apiVersion")
    expected = [f"{constants.GROUP}/{version}" for version in constants.SERVED_VERSIONS]
    problems = (
        []
        if api_version in expected
        else [Problem("apiVersion", f"expected one of {expected}, got {api_version!r}")]
    )
    too_deep = check_depth(manifest)
    if too_deep:
        return too_deep + problems  # the checks below recurse through the whole object
    model, check = _CHECKS[kind]
    problems += check_null_items(manifest)
    problems += check_structure(model, manifest)
    parsed, parse_problems = parse(model, manifest)
    problems += parse_problems
    if parsed is not None:
        problems += check(parsed, gates or Gates())
    return sorted(_unique(problems), key=lambda p: not p.is_error)


# Where the CRDs' transition rules (`self == oldSelf`) sit, per kind: (path, rule).
_CLUSTER_SPEC_TRANSITIONS = (
    (("managedBy",), cel.MANAGED_BY_IMMUTABLE),
    (("gcsFaultToleranceOptions", "backend"), cel.GCS_BACKEND_IMMUTABLE),
)
_TRANSITIONS: dict[str, tuple[tuple[tuple[str, ...], cel.CelRule], ...]] = {
    "RayCluster": tuple((("spec", *path), rule) for path, rule in _CLUSTER_SPEC_TRANSITIONS),
    "RayJob": (
        (("spec", "managedBy"), cel.MANAGED_BY_IMMUTABLE),
        *((("spec", "rayClusterSpec", *path), rule) for path, rule in _CLUSTER_SPEC_TRANSITIONS),
    ),
    "RayService": (
        (("spec", "managedBy"), cel.MANAGED_BY_IMMUTABLE),
        *((("spec", "rayClusterConfig", *path), rule) for path, rule in _CLUSTER_SPEC_TRANSITIONS),
    ),
}


def validate_update(old: Any, new: Any, gates: Gates | None = None) -> list[Problem]:
    """`validate(new)` plus the CRDs' transition rules against `old`, with the apiserver's messages. As
    CEL evaluates them, a rule applies only where the field is set in both versions."""
    problems = validate(new, gates)
    if not isinstance(old, dict) or not isinstance(new, dict) or old.get("kind") != new.get("kind"):
        return problems
    for path, rule in _TRANSITIONS.get(str(new.get("kind")), ()):
        before, after = _lookup(old, path), _lookup(new, path)
        if before is not None and after is not None and before != after:
            problems.insert(0, Problem(".".join(path), rule.message))
    return problems


def _lookup(manifest: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = manifest
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


__all__ = ["KINDS", "Gates", "Problem", "Severity", "validate", "validate_update"]
