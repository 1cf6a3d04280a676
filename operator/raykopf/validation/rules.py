"""KubeRay's own spec rules (≙ ray-operator/controllers/ray/utils/validation.go, the webhook and the
CRDs' CEL rules), reporting every problem with its field path instead of stopping at the first."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from raykopf import constants as c
from raykopf import goyaml, quantity
from raykopf.api import cel
from raykopf.api.base import ObjectMeta
from raykopf.api.raycluster import RayCluster, RayClusterSpec, WorkerGroupSpec
from raykopf.api.rayjob import RayJob
from raykopf.api.rayservice import RayService
from raykopf.config import OperatorConfig
from raykopf.validation.names import (
    dns1035_label_errors,
    label_value_errors,
    parse_go_duration,
    qualified_name_errors,
)
from raykopf.validation.problems import Problem, Severity, brief, join

_GROUP_RESOURCE_PARAMS = ("num-cpus", "num-gpus", "memory", "resources")
_MIN_AUTH_RAY_VERSION = (2, 52, 0)


@dataclass(frozen=True)
class Gates:
    """The feature gates (KubeRay's defaults) and operator limits that change what is valid."""

    ray_job_deletion_policy: bool = True
    max_pods_per_cluster: int = 10_000

    @classmethod
    def of(cls, config: OperatorConfig) -> Gates:
        return cls(
            ray_job_deletion_policy=dict(config.feature_gates).get("RayJobDeletionPolicy", True),
            max_pods_per_cluster=config.max_pods_per_cluster,
        )


# ---------------------------------------------------------------- metadata


# The apiserver appends 5 random characters to metadata.generateName.
_GENERATED_SUFFIX = "x" * 5


def check_name(meta: ObjectMeta, kind: str, limit: int) -> list[Problem]:
    if not meta.name and meta.generate_name:
        # The final name is only known after creation: check the longest name it can become.
        return check_name(ObjectMeta(name=meta.generate_name + _GENERATED_SUFFIX), kind, limit)
    name = meta.name or ""
    if not name:
        return [Problem("metadata.name", f"{kind} needs metadata.name or metadata.generateName")]
    problems = []
    if len(name) > limit:
        problems.append(Problem("metadata.name", f"{kind} name should be no more than {limit} characters"))
    if errors := dns1035_label_errors(name):
        problems.append(Problem("metadata.name", f"{kind} name should be a valid DNS1035 label: {errors}"))
    return problems


def check_managed_by(managed_by: str | None, path: str) -> list[Problem]:
    """≙ the CRD's CEL rule on managedBy (the apiserver's message)."""
    if managed_by is not None and managed_by not in cel.MANAGED_BY_VALUES:
        return [Problem(path, cel.MANAGED_BY_VALUE.message)]
    return []


# ---------------------------------------------------------------- RayCluster spec


# Pod templates are open objects: the structure checks report wrong types in them, and the rules
# below read them without assuming any type.
def _pod_spec(template: Any) -> dict[str, Any]:
    spec = template.get("spec") if isinstance(template, dict) else None
    return spec if isinstance(spec, dict) else {}


def _env(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Env vars of containers[0] (the Ray container) by name."""
    containers = _containers(template)
    if not containers or not isinstance(containers[0], dict):
        return {}
    env = containers[0].get("env")
    return {str(e.get("name", "")): e for e in env if isinstance(e, dict)} if isinstance(env, list) else {}


def _containers(template: dict[str, Any]) -> list[Any]:
    containers = _pod_spec(template).get("containers")
    return containers if isinstance(containers, list) else []


def _restart_policy(template: dict[str, Any]) -> str:
    return str(_pod_spec(template).get("restartPolicy") or "")


def is_autoscaling_enabled(spec: RayClusterSpec | None) -> bool:
    return bool(spec is not None and spec.enable_in_tree_autoscaling)


def is_autoscaling_v2(spec: RayClusterSpec) -> bool:
    if spec.autoscaler_options is not None and spec.autoscaler_options.version is not None:
        return spec.autoscaler_options.version == "v2"
    env = _env(spec.head_group_spec.template).get(c.RAY_ENABLE_AUTOSCALER_V2, {})
    return str(env.get("value", "")).lower() in ("1", "true")


def is_gcs_ft_enabled(spec: RayClusterSpec, annotations: dict[str, str]) -> bool:
    return (
        spec.gcs_fault_tolerance_options is not None
        or annotations.get(c.RAY_FT_ENABLED_ANNOTATION, "").lower() == "true"
    )


def _ray_version(text: str) -> tuple[int, ...] | None:
    parts = text.strip().lstrip("v").split("-")[0].split(".")
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        return None


def _check_quantities(path: str, template: dict[str, Any], resources: dict[str, str] | None) -> list[Problem]:
    """Every resource quantity the builders read (the containers' limits and requests, the group's
    `resources`) is one: the apiserver would refuse the Pod, and the `ray start` line is built from them."""
    found: list[tuple[str, Any]] = [
        (join(path, f"resources.{key}"), value) for key, value in (resources or {}).items()
    ]
    pod = _pod_spec(template)
    for field in ("initContainers", "containers"):
        containers = pod.get(field)
        for index, container in enumerate(containers if isinstance(containers, list) else []):
            amounts = container.get("resources") if isinstance(container, dict) else None
            for kind in ("limits", "requests"):
                values = amounts.get(kind) if isinstance(amounts, dict) else None
                for key, value in (values or {}).items() if isinstance(values, dict) else ():
                    where = join(path, f"template.spec.{field}[{index}].resources.{kind}.{key}")
                    found.append((where, value))
    problems = []
    for where, value in found:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            continue  # a wrong type: the structure checks say so
        try:
            quantity.parse(value)
        except ValueError:
            problems.append(
                Problem(where, f"expected a quantity (e.g. 500m, 2, 4Gi, 1e3), got {brief(value)}")
            )
    return problems


def shell_syntax(text: str) -> str | None:
    """What in `text` would make bash run something, end the command or swallow the rest of the line
    when written unquoted into `ray start --key=value`: a command separator or redirection, command
    substitution (also inside double quotes), an unclosed quote. None when it is only a word."""
    quote, index = "", 0
    while index < len(text):
        char = text[index]
        if quote == "'":
            quote = "" if char == "'" else quote
        elif char == "\\":
            if index == len(text) - 1:
                return "a trailing backslash"  # it would join the next flag to this one
            index += 1  # the next character is literal
        elif char == "`" or text.startswith("$(", index):
            return "command substitution"
        elif quote == '"':
            quote = "" if char == '"' else quote
        elif char in "'\"":
            quote = char
        elif char in ";&|<>()\n":
            return f"the shell operator {char!r}"
        index += 1
    return "an unclosed quote" if quote else None


def _check_group(
    path: str,
    name: str,
    template: dict[str, Any],
    params: dict[str, str],
    resources: dict[str, str] | None,
    labels: dict[str, str] | None,
    kind: str,
) -> list[Problem]:
    problems = []
    if not _containers(template):
        problems.append(
            Problem(join(path, "template.spec.containers"), f"{kind} should have at least one container")
        )
    problems += _check_quantities(path, template, resources)
    for key, value in params.items():
        for text, what in ((key, "name"), (value, "value")):
            found = shell_syntax(str(text))
            if found:
                problems.append(
                    Problem(
                        join(path, f"rayStartParams.{key}"),
                        f"the {what} goes into the `ray start` command line and must not hold {found} "
                        f"(quotes and $VARIABLES are fine; commands belong in the container's command "
                        f"or args), got {brief(text)}",
                    )
                )
    if resources and any(params.get(key) for key in _GROUP_RESOURCE_PARAMS):
        problems.append(
            Problem(
                join(path, "resources"),
                (
                    f"resource fields should not be set in both rayStartParams and Resources for {name} group; "
                    "please use only one"
                ),
            )
        )
    if "labels" in params:
        problems.append(
            Problem(
                join(path, "rayStartParams.labels"),
                (
                    f"rayStartParams['labels'] is not supported for {name} group; please use the top-level Labels field instead"
                ),
            )
        )
    for key, value in (labels or {}).items():
        for error in qualified_name_errors(key):
            problems.append(
                Problem(
                    join(path, f"labels.{key}"),
                    f"invalid label key for {name} group: {key!r}, error: {error}",
                )
            )
        for error in label_value_errors(value):
            problems.append(
                Problem(
                    join(path, f"labels.{key}"),
                    (f"invalid label value for key {key!r} in {name} group: {value!r}, error: {error}"),
                )
            )
    return problems


def _check_pod_count(groups: list[WorkerGroupSpec], path: str, limit: int) -> list[Problem]:
    """The Pods the spec asks for now (the head, and replicas clamped to min and max, times numOfHosts)
    within the operator's --max-pods-per-cluster: building two billion Pod bodies is not an option."""
    asked, where = 1, join(path, "workerGroupSpecs")
    for index, group in enumerate(groups):
        low, high = group.min_replicas or 0, group.max_replicas
        replicas = max(low, group.replicas or 0)
        replicas = min(replicas, high) if high is not None and high >= low else replicas
        asked += max(replicas, 0) * max(group.num_of_hosts, 1)
        if asked > limit:
            where = join(join(path, "workerGroupSpecs"), index)
            break
    if asked <= limit:
        return []
    return [
        Problem(
            where,
            f"asks for more than {limit} Pods (replicas x numOfHosts over the groups, and the head); "
            "this operator allows at most that many per RayCluster (--max-pods-per-cluster)",
        )
    ]


def check_cluster_spec(
    spec: RayClusterSpec, annotations: dict[str, str], path: str, *, owned: bool, gates: Gates
) -> list[Problem]:
    """≙ ValidateRayClusterSpec, plus the webhook's unique group names and a few plain contradictions."""
    problems: list[Problem] = []
    head = spec.head_group_spec
    head_path = join(path, "headGroupSpec")
    problems += _check_group(
        head_path,
        "Head",
        head.template,
        head.ray_start_params or {},
        head.resources,
        head.labels,
        "headGroupSpec",
    )
    groups = spec.worker_group_specs or []
    for index, group in enumerate(groups):
        group_path = join(join(path, "workerGroupSpecs"), index)
        problems += _check_group(
            group_path,
            group.group_name,
            group.template,
            group.ray_start_params or {},
            group.resources,
            group.labels,
            "workerGroupSpec",
        )
        if (
            group.min_replicas is not None
            and group.max_replicas is not None
            and group.min_replicas > group.max_replicas
        ):
            problems.append(
                Problem(
                    join(group_path, "minReplicas"),
                    f"minReplicas ({group.min_replicas}) must not be greater than maxReplicas ({group.max_replicas})",
                )
            )
        for field, value in (
            ("replicas", group.replicas),
            ("minReplicas", group.min_replicas),
            ("maxReplicas", group.max_replicas),
        ):
            if value is not None and value < 0:
                problems.append(
                    Problem(join(group_path, field), f"{field} must be a non-negative integer, got {value}")
                )
        if group.num_of_hosts < 1:
            problems.append(
                Problem(
                    join(group_path, "numOfHosts"), f"numOfHosts must be at least 1, got {group.num_of_hosts}"
                )
            )
    problems += _check_pod_count(groups, path, gates.max_pods_per_cluster)
    service_meta = (head.head_service or {}).get("metadata")
    service_name = service_meta.get("name") if isinstance(service_meta, dict) else None
    if isinstance(service_name, str) and service_name:
        for error in dns1035_label_errors(service_name):
            problems.append(
                Problem(
                    join(head_path, "headService.metadata.name"),
                    f"the head Service's name: {error}, got {brief(service_name)}",
                )
            )
    account = _pod_spec(head.template).get("serviceAccountName")
    if is_autoscaling_enabled(spec) and account == "default":
        problems.append(
            Problem(
                join(head_path, "template.spec.serviceAccountName"),
                "the autoscaler's Role (patch Pods and RayClusters) is bound to the head's ServiceAccount; "
                "bound to the namespace's `default`, every Pod without a ServiceAccount of its own would "
                "hold it: name another ServiceAccount, or none (the operator then creates one for the cluster)",
            )
        )
    for name, count in Counter(g.group_name for g in groups).items():
        if count > 1:
            problems.append(
                Problem(
                    join(path, "workerGroupSpecs"),
                    f"worker group names must be unique: {name!r} is used {count} times",
                )
            )

    head_env = _env(head.template)
    params = head.ray_start_params or {}
    ft_options = spec.gcs_fault_tolerance_options
    if annotations.get(c.RAY_FT_ENABLED_ANNOTATION) and ft_options is not None:
        problems.append(
            Problem(
                join(path, "gcsFaultToleranceOptions"),
                (
                    f"{c.RAY_FT_ENABLED_ANNOTATION} annotation and GcsFaultToleranceOptions are both set. "
                    "Please use only GcsFaultToleranceOptions to configure GCS fault tolerance"
                ),
            )
        )
    env_path = join(head_path, "template.spec.containers[0].env")
    if not is_gcs_ft_enabled(spec, annotations) and c.RAY_REDIS_ADDRESS in head_env:
        problems.append(
            Problem(
                env_path,
                (
                    f"{c.RAY_REDIS_ADDRESS} is set which implicitly enables GCS fault tolerance, but GcsFaultToleranceOptions "
                    "is not set. Please set GcsFaultToleranceOptions to enable GCS fault tolerance"
                ),
            )
        )
    if ft_options is not None:
        if params.get("redis-password"):
            problems.append(
                Problem(
                    join(head_path, "rayStartParams.redis-password"),
                    (
                        "cannot set `redis-password` in rayStartParams when GcsFaultToleranceOptions is enabled - "
                        "use GcsFaultToleranceOptions.RedisPassword instead"
                    ),
                )
            )
        for env_name, field in ((c.REDIS_PASSWORD, "RedisPassword"), (c.RAY_REDIS_ADDRESS, "RedisAddress")):
            if env_name in head_env:
                problems.append(
                    Problem(
                        env_path,
                        (
                            f"cannot set `{env_name}` env var in head Pod when GcsFaultToleranceOptions is enabled - "
                            f"use GcsFaultToleranceOptions.{field} instead"
                        ),
                    )
                )
        if annotations.get(c.RAY_EXTERNAL_STORAGE_NS_ANNOTATION):
            problems.append(
                Problem(
                    f"metadata.annotations.{c.RAY_EXTERNAL_STORAGE_NS_ANNOTATION}",
                    (
                        "cannot set `ray.io/external-storage-namespace` annotation when GcsFaultToleranceOptions is "
                        "enabled - use GcsFaultToleranceOptions.ExternalStorageNamespace instead"
                    ),
                )
            )
    if params.get("redis-username") or c.REDIS_USERNAME in head_env:
        problems.append(
            Problem(
                head_path,
                (
                    "cannot set redis username in rayStartParams or environment variables - "
                    "use GcsFaultToleranceOptions.RedisUsername instead"
                ),
            )
        )

    autoscaling = is_autoscaling_enabled(spec)
    for index, group in enumerate(groups):
        if not group.suspend:
            continue
        suspend_path = join(join(join(path, "workerGroupSpecs"), index), "suspend")
        if not gates.ray_job_deletion_policy:
            problems.append(
                Problem(
                    suspend_path,
                    (
                        f"worker group {group.group_name} can be suspended only when the RayJobDeletionPolicy feature gate is enabled"
                    ),
                )
            )
        if autoscaling:
            problems.append(
                Problem(
                    suspend_path,
                    f"worker group {group.group_name} cannot be suspended with Autoscaler enabled",
                )
            )
    v2_env = head_env.get(c.RAY_ENABLE_AUTOSCALER_V2)
    if not autoscaling and v2_env is not None and v2_env.get("value") in ("1", "true"):
        problems.append(
            Problem(
                env_path,
                (
                    f"environment variable {c.RAY_ENABLE_AUTOSCALER_V2} cannot be set to {v2_env.get('value')!r} when "
                    "enableInTreeAutoscaling is false. Please set enableInTreeAutoscaling: true to use autoscaler v2"
                ),
            )
        )
    if autoscaling:
        if (
            spec.autoscaler_options is not None
            and spec.autoscaler_options.version is not None
            and v2_env is not None
        ):
            problems.append(
                Problem(
                    join(path, "autoscalerOptions.version"),
                    (
                        f"both .spec.autoscalerOptions.version and head Pod env var {c.RAY_ENABLE_AUTOSCALER_V2} are set, "
                        "please only use the former"
                    ),
                )
            )
        if is_autoscaling_v2(spec):
            if _restart_policy(head.template) not in ("", "Never"):
                problems.append(
                    Problem(
                        join(head_path, "template.spec.restartPolicy"),
                        "restartPolicy for head Pod should be Never or unset when using autoscaler V2",
                    )
                )
            for index, group in enumerate(groups):
                if _restart_policy(group.template) not in ("", "Never"):
                    problems.append(
                        Problem(
                            join(join(join(path, "workerGroupSpecs"), index), "template.spec.restartPolicy"),
                            (
                                f"restartPolicy for worker group {group.group_name} should be Never or unset when using autoscaler V2"
                            ),
                        )
                    )

    auth = spec.auth_options
    if auth is not None and auth.mode == "token":
        version = _ray_version(spec.ray_version or "")
        if not spec.ray_version:
            problems.append(
                Problem(
                    join(path, "rayVersion"),
                    "authOptions.mode is 'token' but RayVersion was not specified. Ray version 2.52.0 or later is required",
                )
            )
        elif version is None:
            problems.append(
                Problem(
                    join(path, "rayVersion"),
                    f"authOptions.mode is 'token' but RayVersion format is invalid: {spec.ray_version}",
                )
            )
        elif version < _MIN_AUTH_RAY_VERSION:
            problems.append(
                Problem(
                    join(path, "rayVersion"),
                    f"authOptions.mode is 'token' but minimum Ray version is 2.52.0, got {spec.ray_version}",
                )
            )
    problems += check_managed_by(spec.managed_by, join(path, "managedBy"))
    if owned and spec.upgrade_strategy is not None and spec.upgrade_strategy.type is not None:
        problems.append(
            Problem(
                join(path, "upgradeStrategy"),
                "upgradeStrategy is only allowed on RayClusters created directly, not in a RayJob or RayService",
            )
        )
    return problems


def check_raycluster(cluster: RayCluster, gates: Gates) -> list[Problem]:
    annotations = cluster.metadata.annotations or {}
    problems = check_name(cluster.metadata, "RayCluster", c.MAX_RAYCLUSTER_NAME_LENGTH)
    problems += check_cluster_spec(cluster.spec, annotations, "spec", owned=False, gates=gates)
    status = cluster.status
    if status is not None:
        true = {cond.type for cond in status.conditions or [] if cond.status == "True"}
        if {"RayClusterSuspending", "RayClusterSuspended"} <= true:
            problems.append(
                Problem(
                    "status.conditions",
                    (
                        "invalid RayCluster State: rayv1.RayClusterSuspending and rayv1.RayClusterSuspended conditions "
                        "should not be both true"
                    ),
                )
            )
    return problems


# ---------------------------------------------------------------- RayJob


def _yaml_mapping_problem(text: str | None, path: str, what: str) -> list[Problem]:
    if not text:
        return []
    try:
        loaded = goyaml.load(text)
    except goyaml.YamlError as error:
        return [Problem(path, f"{what} cannot be read: {error}")]
    if loaded is not None and not isinstance(loaded, dict):
        return [Problem(path, f"{what} must be a YAML mapping, got {type(loaded).__name__}")]
    return []


# A submission ID goes into the dashboard's URL path and the submitter's command line: nothing there
# may read as a path step or a shell word of its own. Ray's own IDs (raysubmit_...) and KubeRay's
# (<rayjob>-<5 random>) fit.
_JOB_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._:-]{0,252}")


def _check_job_id(job_id: str | None) -> list[Problem]:
    if not job_id or _JOB_ID.fullmatch(job_id):
        return []
    return [
        Problem(
            "spec.jobId",
            "expected up to 253 letters, digits, '_', '.', ':' or '-', not starting with '.', ':' or "
            f"'-' (it goes into the dashboard's URL and the submitter's command line), got {brief(job_id)}",
        )
    ]


def check_rayjob(job: RayJob, gates: Gates) -> list[Problem]:
    """≙ ValidateRayJobMetadata + ValidateRayJobSpec + the CRD's CEL rules."""
    spec = job.spec
    problems = check_name(job.metadata, "RayJob", c.MAX_RAYJOB_NAME_LENGTH)
    problems += check_managed_by(spec.managed_by, "spec.managedBy")
    selector = spec.cluster_selector or {}
    mode = spec.submission_mode or c.K8S_JOB_MODE
    if mode not in c.SUBMISSION_MODES:
        problems.append(
            Problem("spec.submissionMode", f"must be one of {list(c.SUBMISSION_MODES)}, got {mode!r}")
        )
    problems += _check_job_id(spec.job_id)
    if spec.suspend and not spec.shutdown_after_job_finishes:
        problems.append(
            Problem(
                "spec.suspend",
                "a RayJob with shutdownAfterJobFinishes set to false is not allowed to be suspended",
            )
        )
    ttl = spec.ttl_seconds_after_finished or 0
    if ttl < 0:
        problems.append(
            Problem("spec.ttlSecondsAfterFinished", "TTLSecondsAfterFinished must be a non-negative integer")
        )
    if not spec.shutdown_after_job_finishes and ttl > 0:
        problems.append(
            Problem(
                "spec.ttlSecondsAfterFinished",
                "a RayJob with shutdownAfterJobFinishes set to false cannot have TTLSecondsAfterFinished",
            )
        )
    problems += _check_deletion_strategy(job, gates)
    if selector and spec.suspend:
        problems.append(
            Problem("spec.clusterSelector", "the ClusterSelector mode doesn't support the suspend operation")
        )
    if spec.ray_cluster_spec is None and not selector:
        problems.append(
            Problem("spec.rayClusterSpec", "one of RayClusterSpec or ClusterSelector must be set")
        )
    if selector:
        if not selector.get(c.RAYJOB_CLUSTER_SELECTOR_KEY):
            problems.append(
                Problem(
                    f"spec.clusterSelector.{c.RAYJOB_CLUSTER_SELECTOR_KEY}",
                    "cluster name in ClusterSelector should not be empty",
                )
            )
        if mode == c.SIDECAR_MODE:
            problems.append(
                Problem("spec.clusterSelector", "ClusterSelector is not supported in SidecarMode")
            )
    if mode == c.K8S_JOB_MODE and spec.submitter_pod_template is not None:
        containers = _containers(spec.submitter_pod_template)
        if not containers or not isinstance(containers[0], dict):
            # KubeRay reads containers[0] without a check (its reconcile panics on this template).
            problems.append(
                Problem(
                    "spec.submitterPodTemplate.spec.containers",
                    "the submitter Pod template should have at least one container (the first one submits the job)",
                )
            )
    if mode == c.INTERACTIVE_MODE and (spec.backoff_limit or 0) > 0:
        problems.append(Problem("spec.backoffLimit", "BackoffLimit is incompatible with InteractiveMode"))
    if mode == c.SIDECAR_MODE:
        if spec.submitter_pod_template is not None:
            problems.append(
                Problem(
                    "spec.submitterPodTemplate", "Currently, SidecarMode doesn't support SubmitterPodTemplate"
                )
            )
        if spec.submitter_config is not None:
            problems.append(
                Problem("spec.submitterConfig", "Currently, SidecarMode doesn't support SubmitterConfig")
            )
        if spec.ray_cluster_spec is not None and _restart_policy(
            spec.ray_cluster_spec.head_group_spec.template
        ) not in ("", "Never"):
            problems.append(
                Problem(
                    "spec.rayClusterSpec.headGroupSpec.template.spec.restartPolicy",
                    "restartPolicy for head Pod should be Never or unset when using SidecarMode",
                )
            )
    if spec.ray_cluster_spec is not None:
        problems += check_cluster_spec(
            spec.ray_cluster_spec,
            job.metadata.annotations or {},
            "spec.rayClusterSpec",
            owned=True,
            gates=gates,
        )
    problems += _yaml_mapping_problem(spec.runtime_env_yaml, "spec.runtimeEnvYAML", "runtimeEnvYAML")
    if spec.entrypoint_resources:
        try:
            resources = json.loads(spec.entrypoint_resources)
        except ValueError:
            resources = None
        if not isinstance(resources, dict):
            problems.append(
                Problem("spec.entrypointResources", 'must be a JSON object such as {"custom": 1}')
            )
    if spec.active_deadline_seconds is not None and spec.active_deadline_seconds <= 0:
        problems.append(
            Problem("spec.activeDeadlineSeconds", "activeDeadlineSeconds must be a positive integer")
        )
    if spec.backoff_limit is not None and spec.backoff_limit < 0:
        problems.append(Problem("spec.backoffLimit", "backoffLimit must be a positive integer"))
    if (
        job.status is not None
        and job.status.job_deployment_status == "Waiting"
        and mode != c.INTERACTIVE_MODE
    ):
        problems.append(
            Problem(
                "status.jobDeploymentStatus",
                "JobDeploymentStatus cannot be `Waiting` when SubmissionMode is not InteractiveMode",
            )
        )
    return problems


def _check_deletion_strategy(job: RayJob, gates: Gates) -> list[Problem]:
    spec = job.spec
    strategy = spec.deletion_strategy
    if strategy is None:
        return []
    path = "spec.deletionStrategy"
    if not gates.ray_job_deletion_policy:
        return [Problem(path, "RayJobDeletionPolicy feature gate must be enabled to use DeletionStrategy")]
    legacy = strategy.on_success is not None or strategy.on_failure is not None
    rules = strategy.deletion_rules or []
    selector = bool(spec.cluster_selector)
    autoscaling = is_autoscaling_enabled(spec.ray_cluster_spec)
    problems: list[Problem] = []
    if rules and spec.shutdown_after_job_finishes:
        problems.append(
            Problem(
                path,
                "spec.shutdownAfterJobFinishes and spec.deletionStrategy.deletionRules are mutually exclusive",
            )
        )
    # The CRD's CEL rules reject these before KubeRay's own checks run: their messages are the ones a
    # user of KubeRay sees.
    if rules and legacy:
        return [*problems, Problem(path, cel.DELETION_STRATEGY_NOT_BOTH.message)]
    if legacy:
        if strategy.on_success is None or strategy.on_failure is None:
            return [*problems, Problem(path, cel.DELETION_STRATEGY_NOT_EMPTY.message)]
        for field, policy in (
            ("onSuccess", strategy.on_success.policy),
            ("onFailure", strategy.on_failure.policy),
        ):
            when = "on success" if field == "onSuccess" else "on failure"
            if policy is None:
                problems.append(
                    Problem(
                        f"{path}.{field}.policy",
                        f"the DeletionPolicyType field of DeletionStrategy.{field[0].upper()}{field[1:]} cannot be unset when DeletionStrategy is enabled",
                    )
                )
                continue
            if selector and policy in ("DeleteCluster", "DeleteWorkers"):
                problems.append(
                    Problem(
                        f"{path}.{field}.policy",
                        f"the ClusterSelector mode doesn't support DeletionStrategy={policy} {when}",
                    )
                )
            if policy == "DeleteWorkers" and autoscaling:
                problems.append(
                    Problem(
                        f"{path}.{field}.policy",
                        "DeletionStrategy=DeleteWorkers currently does not support RayCluster with autoscaling enabled",
                    )
                )
            if policy == "DeleteNone" and spec.shutdown_after_job_finishes:
                problems.append(
                    Problem(
                        f"{path}.{field}.policy",
                        "shutdownAfterJobFinshes is set to 'true' while deletion policy is 'DeleteNone'",
                    )
                )
        return problems
    if not rules:
        return [*problems, Problem(path, cel.DELETION_STRATEGY_NOT_EMPTY.message)]
    seen: dict[str, dict[str, int]] = {}
    for index, rule in enumerate(rules):
        rule_path = f"{path}.deletionRules[{index}]"
        condition = rule.condition
        if (condition.job_status is None) == (condition.job_deployment_status is None):
            both = condition.job_status is not None
            rule_broken = cel.DELETION_CONDITION_NOT_BOTH if both else cel.DELETION_CONDITION_ONE
            problems.append(Problem(f"{rule_path}.condition", rule_broken.message))
            continue
        ttl_seconds = condition.ttl_seconds or 0
        if ttl_seconds < 0:
            problems.append(
                Problem(
                    f"{rule_path}.condition.ttlSeconds",
                    f"deletionRules[{index}]: TTLSeconds must be non-negative",
                )
            )
            continue
        if selector and rule.policy in ("DeleteCluster", "DeleteWorkers"):
            problems.append(
                Problem(
                    f"{rule_path}.policy",
                    f"deletionRules[{index}]: DeletionPolicyType {rule.policy!r} not supported when ClusterSelector is set",
                )
            )
            continue
        if autoscaling and rule.policy == "DeleteWorkers":
            problems.append(
                Problem(
                    f"{rule_path}.policy",
                    f"deletionRules[{index}]: DeletionPolicyType 'DeleteWorkers' not supported with autoscaling enabled",
                )
            )
            continue
        status = condition.job_status or condition.job_deployment_status or ""
        by_policy = seen.setdefault(status, {})
        if rule.policy in by_policy:
            problems.append(
                Problem(
                    rule_path,
                    f"deletionRules[{index}]: duplicate rule for DeletionPolicyType {rule.policy!r} and JobStatus {status!r}",
                )
            )
            continue
        by_policy[rule.policy] = ttl_seconds
    for status_name, by_policy in seen.items():
        previous: tuple[str, int] | None = None
        for policy in ("DeleteWorkers", "DeleteCluster", "DeleteSelf"):
            if policy not in by_policy:
                continue
            if previous is not None and by_policy[policy] < previous[1]:
                problems.append(
                    Problem(
                        f"{path}.deletionRules",
                        (
                            f"for JobStatus {status_name!r}: {policy} TTL ({by_policy[policy]}) must be >= {previous[0]} TTL ({previous[1]})"
                        ),
                    )
                )
            previous = (policy, by_policy[policy])
    return problems


# ---------------------------------------------------------------- RayService


def check_rayservice(service: RayService, gates: Gates) -> list[Problem]:
    """≙ ValidateRayServiceMetadata + ValidateRayServiceSpec."""
    spec = service.spec
    annotations = service.metadata.annotations or {}
    problems = check_name(service.metadata, "RayService", c.MAX_RAYSERVICE_NAME_LENGTH)
    timeout = annotations.get(c.RAYSERVICE_INITIALIZING_TIMEOUT_ANNOTATION)
    if timeout:
        seconds = parse_go_duration(timeout)
        if seconds is None and timeout.lstrip("-").isdigit():
            seconds = float(timeout)
        if seconds is None or seconds <= 0:
            problems.append(
                Problem(
                    f"metadata.annotations.{c.RAYSERVICE_INITIALIZING_TIMEOUT_ANNOTATION}",
                    (
                        f"annotation {c.RAYSERVICE_INITIALIZING_TIMEOUT_ANNOTATION} has invalid value {timeout!r}: expected a "
                        "positive Go duration (e.g. '5m', '1h') or a positive integer of seconds"
                    ),
                )
            )
    problems += check_managed_by(spec.managed_by, "spec.managedBy")
    cluster = spec.ray_cluster_config
    problems += check_cluster_spec(cluster, annotations, "spec.rayClusterConfig", owned=True, gates=gates)
    head_service = cluster.head_group_spec.head_service or {}
    if (head_service.get("metadata") or {}).get("name"):
        problems.append(
            Problem(
                "spec.rayClusterConfig.headGroupSpec.headService.metadata.name",
                "spec.rayClusterConfig.headGroupSpec.headService.metadata.name should not be set",
            )
        )
    strategy = spec.upgrade_strategy
    if strategy is not None and strategy.type is not None and strategy.type not in c.RAYSERVICE_UPGRADE_TYPES:
        problems.append(
            Problem(
                "spec.upgradeStrategy.type",
                (
                    f"Spec.UpgradeStrategy.Type value {strategy.type} is invalid, valid options are "
                    "NewClusterWithIncrementalUpgrade, NewCluster, or None"
                ),
            )
        )
    delay = spec.ray_cluster_deletion_delay_seconds
    if delay is not None and delay < 0:
        problems.append(
            Problem(
                "spec.rayClusterDeletionDelaySeconds",
                f"Spec.RayClusterDeletionDelaySeconds should be a non-negative integer, got {delay}",
            )
        )
    if strategy is not None and strategy.type == "NewClusterWithIncrementalUpgrade":
        problems += _check_incremental_upgrade(service)
    problems += _yaml_mapping_problem(spec.serve_config_v2, "spec.serveConfigV2", "serveConfigV2")
    return problems


def _check_incremental_upgrade(service: RayService) -> list[Problem]:
    path = "spec.upgradeStrategy.clusterUpgradeOptions"
    if not is_autoscaling_enabled(service.spec.ray_cluster_config):
        return [
            Problem(
                "spec.rayClusterConfig.enableInTreeAutoscaling",
                "Ray Autoscaler is required for NewClusterWithIncrementalUpgrade",
            )
        ]
    options = service.spec.upgrade_strategy.cluster_upgrade_options if service.spec.upgrade_strategy else None
    if options is None:
        return [Problem(path, "ClusterUpgradeOptions are required for NewClusterWithIncrementalUpgrade")]
    problems = []
    surge = 100 if options.max_surge_percent is None else options.max_surge_percent
    if not 0 <= surge <= 100:
        problems.append(Problem(f"{path}.maxSurgePercent", "maxSurgePercent must be between 0 and 100"))
    if options.step_size_percent is None or not 0 <= options.step_size_percent <= 100:
        problems.append(Problem(f"{path}.stepSizePercent", "stepSizePercent must be between 0 and 100"))
    if options.interval_seconds is None or options.interval_seconds <= 0:
        problems.append(Problem(f"{path}.intervalSeconds", "intervalSeconds must be greater than 0"))
    if not options.gateway_class_name:
        problems.append(
            Problem(
                f"{path}.gatewayClassName",
                "gatewayClassName is required for NewClusterWithIncrementalUpgrade",
            )
        )
    return problems


__all__ = ["Gates", "Severity", "check_raycluster", "check_rayjob", "check_rayservice"]
