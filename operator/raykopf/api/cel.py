"""The CEL validation rules KubeRay v1.7's CRDs carry (`x-kubernetes-validations`), with their messages
verbatim: the models put them into the generated CRDs, and `raykopf.validation` reports the same
messages for the same conditions, so a manifest gets the same words offline and from the apiserver."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from raykopf import constants


@dataclass(frozen=True)
class CelRule:
    rule: str
    message: str


MANAGED_BY_VALUES = (constants.KUBERAY_MANAGED_BY, constants.MULTIKUEUE_MANAGED_BY)

MANAGED_BY_IMMUTABLE = CelRule("self == oldSelf", "the managedBy field is immutable")
MANAGED_BY_VALUE = CelRule(
    "self in ['ray.io/kuberay-operator', 'kueue.x-k8s.io/multikueue']",
    "the managedBy field value must be either 'ray.io/kuberay-operator' or 'kueue.x-k8s.io/multikueue'",
)
GCS_BACKEND_IMMUTABLE = CelRule("self == oldSelf", "gcsFaultToleranceOptions.backend is immutable")
DELETION_STRATEGY_NOT_BOTH = CelRule(
    "!((has(self.onSuccess) || has(self.onFailure)) && has(self.deletionRules))",
    "legacy policies (onSuccess/onFailure) and deletionRules cannot be used together within the same "
    "deletionStrategy",
)
DELETION_STRATEGY_NOT_EMPTY = CelRule(
    "((has(self.onSuccess) && has(self.onFailure)) || has(self.deletionRules))",
    "deletionStrategy requires either BOTH onSuccess and onFailure, OR the deletionRules field (cannot be "
    "empty)",
)
DELETION_CONDITION_NOT_BOTH = CelRule(
    "!(has(self.jobStatus) && has(self.jobDeploymentStatus))",
    "JobStatus and JobDeploymentStatus cannot be used together within the same deletion condition.",
)
DELETION_CONDITION_ONE = CelRule(
    "has(self.jobStatus) || has(self.jobDeploymentStatus)",
    "the deletion condition requires either the JobStatus or the JobDeploymentStatus field.",
)


def validations(*rules: CelRule) -> dict[str, Any]:
    """A schema fragment (`json_schema_extra`) carrying the rules, in KubeRay's order."""
    return {"x-kubernetes-validations": [{"message": r.message, "rule": r.rule} for r in rules]}
