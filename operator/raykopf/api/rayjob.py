"""RayJob ray.io/v1 (≙ ray-operator/apis/ray/v1/rayjob_types.go)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from raykopf.api import cel
from raykopf.api.base import ApiModel, Int32, Int64, ObjectMeta, PodTemplateSpec, StringMap, Time
from raykopf.api.raycluster import ManagedBy, RayClusterSpec, RayClusterStatus

DeletionPolicyType = Literal["DeleteCluster", "DeleteWorkers", "DeleteSelf", "DeleteNone"]


class SubmitterConfig(ApiModel):
    """Settings of the submitter batch Job (K8sJobMode)."""

    backoff_limit: Int32 | None = None
    """The submitter Job's backoffLimit; KubeRay's default is 2."""


class DeletionCondition(ApiModel):
    """When a deletion rule fires: exactly one of jobStatus and jobDeploymentStatus."""

    model_config = ConfigDict(
        json_schema_extra=cel.validations(cel.DELETION_CONDITION_NOT_BOTH, cel.DELETION_CONDITION_ONE)
    )

    job_status: Literal["SUCCEEDED", "FAILED"] | None = None
    job_deployment_status: Literal["Failed"] | None = None
    ttl_seconds: Int32 | None = 0
    """Seconds after the job's end time."""


class DeletionRule(ApiModel):
    """What to delete, and when."""

    policy: DeletionPolicyType
    condition: DeletionCondition


class DeletionPolicy(ApiModel):
    """Legacy onSuccess/onFailure form."""

    policy: DeletionPolicyType | None = None


class DeletionStrategy(ApiModel):
    """Clean-up after the job ends: deletionRules, or the legacy onSuccess and onFailure pair."""

    model_config = ConfigDict(
        json_schema_extra=cel.validations(cel.DELETION_STRATEGY_NOT_BOTH, cel.DELETION_STRATEGY_NOT_EMPTY)
    )

    deletion_rules: list[DeletionRule] | None = Field(
        default=None, json_schema_extra={"x-kubernetes-list-type": "atomic"}
    )
    on_success: DeletionPolicy | None = None
    on_failure: DeletionPolicy | None = None


class RayJobSpec(ApiModel):
    """Desired state of a Ray job and the cluster it runs on."""

    entrypoint: str | None = None
    """Shell command run as the job's driver (`ray job submit -- <entrypoint>`)."""
    runtime_env_yaml: str | None = Field(default=None, alias="runtimeEnvYAML")
    """Ray runtime environment, as YAML."""
    job_id: str | None = None
    """Submission ID; generated as <rayjob>-<5 random> when empty."""
    metadata: StringMap | None = None
    entrypoint_num_cpus: float | None = None
    entrypoint_num_gpus: float | None = None
    entrypoint_resources: str | None = None
    """Custom resources for the driver, as a JSON object string."""
    ray_cluster_spec: RayClusterSpec | None = None
    cluster_selector: StringMap | None = None
    """{ray.io/cluster: <name>}: run on an existing RayCluster and never delete it."""
    submission_mode: str | None = "K8sJobMode"
    """K8sJobMode, HTTPMode, SidecarMode or InteractiveMode."""
    submitter_pod_template: PodTemplateSpec | None = None
    submitter_config: SubmitterConfig | None = None
    shutdown_after_job_finishes: bool | None = None
    ttl_seconds_after_finished: Int32 | None = 0
    active_deadline_seconds: Int32 | None = None
    pre_running_deadline_seconds: Int32 | None = Field(default=None, ge=1)
    backoff_limit: Int32 | None = 0
    """Retries, each on a new RayCluster."""
    suspend: bool | None = None
    managed_by: ManagedBy = None
    deletion_strategy: DeletionStrategy | None = None


class RayJobInfo(ApiModel):
    """Times reported by the Ray dashboard."""

    start_time: Time | None = None
    end_time: Time | None = None


class RayJobStatus(ApiModel):
    """Observed state of a RayJob."""

    job_id: str | None = None
    ray_cluster_name: str | None = None
    dashboard_url: str | None = Field(default=None, alias="dashboardURL")
    job_status: str | None = None
    job_deployment_status: str | None = None
    reason: str | None = None
    message: str | None = None
    start_time: Time | None = None
    end_time: Time | None = None
    ray_job_info: RayJobInfo | None = None
    succeeded: Int32 | None = 0
    failed: Int32 | None = 0
    ray_cluster_status: RayClusterStatus | None = None
    job_status_check_failure_start_time: Time | None = None
    observed_generation: Int64 | None = None


class RayJob(ApiModel):
    """A Ray job, run on a RayCluster that it creates or selects."""

    api_version: str | None = None
    kind: str | None = None
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: RayJobSpec
    status: RayJobStatus | None = None
