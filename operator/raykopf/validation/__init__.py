"""Validation of ray.io manifests as a pure function: `validate(manifest) -> [Problem]`.

Used by the operator (problems go to the object's status and events) and by `raykopf validate`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from raykopf import constants
from raykopf.api import RayCluster, RayJob, RayService
from raykopf.api.base import ApiModel
from raykopf.validation.problems import Problem, Severity
from raykopf.validation.rules import Gates, check_raycluster, check_rayjob, check_rayservice
from raykopf.validation.structure import check_structure, parse

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
    if kind not in _CHECKS:
        return [Problem("kind", f"expected one of {list(KINDS)}, got {kind!r}")]
    api_version = manifest.get("apiVersion")
    expected = [f"{constants.GROUP}/{version}" for version in constants.SERVED_VERSIONS]
    problems = (
        []
        if api_version in expected
        else [Problem("apiVersion", f"expected one of {expected}, got {api_version!r}")]
    )
    model, check = _CHECKS[kind]
    problems += check_structure(model, manifest)
    parsed, parse_problems = parse(model, manifest)
    problems += parse_problems
    if parsed is not None:
        problems += check(parsed, gates or Gates())
    return sorted(_unique(problems), key=lambda p: not p.is_error)


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


__all__ = ["KINDS", "Gates", "Problem", "Severity", "validate"]
