"""KubeRay's operator configuration file (`--config`, a `config.ray.io/v1alpha1` Configuration) checked
field by field before the operator starts: every problem with its field path and what was expected.

KubeRay decodes the file leniently (an unknown or misspelt field is dropped without a word); here an
unknown field is a warning that names it, and a field of the wrong type is an error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from raykopf.validation.core_types import check_core_type
from raykopf.validation.problems import Problem, Severity, join

API_VERSION = "config.ray.io/v1alpha1"
KIND = "Configuration"
ENCODERS = ("json", "console")
# The names KubeRay's ValidateBatchSchedulerConfig accepts (reference §3.1).
BATCH_SCHEDULERS = ("volcano", "yunikorn", "kai-scheduler", "scheduler-plugins")

Check = Callable[[Any, str], list[Problem]]


def _expect(kind: str, test: Callable[[Any], bool]) -> Check:
    def check(value: Any, path: str) -> list[Problem]:
        return [] if test(value) else [Problem(path, f"expected {kind}, got {value!r}")]

    return check


_string = _expect("a string", lambda v: isinstance(v, str))
_boolean = _expect("true or false", lambda v: isinstance(v, bool))
_integer = _expect("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool))
_positive = _expect(
    "an integer of at least 1", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1
)
_number = _expect("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
_encoder = _expect("json or console", lambda v: v in ENCODERS)
_string_map = _expect(
    "a map of strings to strings",
    lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()),
)


def _list_of(definition: str) -> Check:
    def check(value: Any, path: str) -> list[Problem]:
        if not isinstance(value, list):
            return [Problem(path, f"expected a list of {definition.rsplit('.', 1)[-1]}, got {value!r}")]
        problems: list[Problem] = []
        for index, item in enumerate(value):
            problems += check_core_type(definition, item, join(path, index))
        return problems

    return check


def _batch_scheduler(value: Any, path: str) -> list[Problem]:
    if value in ("", *BATCH_SCHEDULERS):
        return []
    return [Problem(path, f"expected one of {', '.join(BATCH_SCHEDULERS)}, got {value!r}")]


# Every field of KubeRay's Configuration (apis/config/v1alpha1/configuration_types.go, plus v1.7's pod
# defaults) and what its value must be.
FIELDS: dict[str, Check] = {
    "metricsAddr": _string,
    "probeAddr": _string,
    "enableLeaderElection": _boolean,
    "leaderElectionNamespace": _string,
    "reconcileConcurrency": _positive,
    "watchNamespace": _string,
    "logFile": _string,
    "logFileEncoder": _encoder,
    "logStdoutEncoder": _encoder,
    "batchScheduler": _batch_scheduler,
    "enableBatchScheduler": _boolean,
    "useKubernetesProxy": _boolean,
    "deleteRayJobAfterJobFinishes": _boolean,
    "enableMetrics": _boolean,
    "qps": _number,
    "burst": _integer,
    "headSidecarContainers": _list_of("io.k8s.api.core.v1.Container"),
    "workerSidecarContainers": _list_of("io.k8s.api.core.v1.Container"),
    "defaultContainerEnvs": _list_of("io.k8s.api.core.v1.EnvVar"),
    "defaultPodAnnotations": _string_map,
    "defaultPodLabels": _string_map,
}


def check_configuration(document: Any) -> list[Problem]:
    """Errors and warnings of one Configuration document, each with its field path."""
    if not isinstance(document, dict):
        return [Problem("", f"expected a {KIND} object (a YAML map), got {type(document).__name__}")]
    problems: list[Problem] = []
    if document.get("apiVersion") != API_VERSION:
        problems.append(Problem("apiVersion", f"expected {API_VERSION}, got {document.get('apiVersion')!r}"))
    if document.get("kind") != KIND:
        problems.append(Problem("kind", f"expected {KIND}, got {document.get('kind')!r}"))
    for key, value in document.items():
        if key in ("apiVersion", "kind"):
            continue
        check = FIELDS.get(key)
        if check is None:
            problems.append(
                Problem(str(key), "unknown field of KubeRay's Configuration; ignored", Severity.WARNING)
            )
        elif value is not None:
            problems += check(value, key)
    if document.get("enableBatchScheduler") and document.get("batchScheduler"):
        problems.append(
            Problem(
                "enableBatchScheduler",
                "both enableBatchScheduler (deprecated) and batchScheduler are set; use batchScheduler only",
            )
        )
    return problems
