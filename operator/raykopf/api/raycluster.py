"""RayCluster ray.io/v1 (≙ ray-operator/apis/ray/v1/raycluster_types.go)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from raykopf.api import cel
from raykopf.api.base import (
    ApiModel,
    Condition,
    EnvFromSource,
    EnvVar,
    EnvVarSource,
    IngressTLS,
    Int32,
    Int64,
    NetworkPolicyEgressRule,
    NetworkPolicyIngressRule,
    ObjectMeta,
    PodTemplateSpec,
    Quantity,
    ResourceRequirements,
    SecurityContext,
    ServiceTemplate,
    StringMap,
    Time,
    VolumeMount,
    conditions_field,
)

MAX_INT32 = 2**31 - 1


# Which controller manages the object; KubeRay's CEL rules make it immutable and limit its values.
ManagedBy = Annotated[
    str | None, Field(json_schema_extra=cel.validations(cel.MANAGED_BY_IMMUTABLE, cel.MANAGED_BY_VALUE))
]


class AutoscalerOptions(ApiModel):
    """Settings of the Ray autoscaler sidecar in the head Pod."""

    resources: ResourceRequirements | None = None
    """Autoscaler container resources; default 500m CPU and 512Mi memory (requests = limits)."""
    image: str | None = None
    """Autoscaler image; defaults to the head container's image."""
    image_pull_policy: str | None = None
    security_context: SecurityContext | None = None
    idle_timeout_seconds: Int32 | None = None
    """Seconds a worker stays idle before the autoscaler removes it (Ray's default is 60)."""
    upscaling_mode: Literal["Default", "Aggressive", "Conservative"] | None = None
    version: Literal["v1", "v2"] | None = None
    env: list[EnvVar] | None = None
    env_from: list[EnvFromSource] | None = None
    volume_mounts: list[VolumeMount] | None = None
    command: list[str] | None = None
    args: list[str] | None = None


class RedisCredential(ApiModel):
    """A Redis password or username, given inline or from an env-var source."""

    value: str | None = None
    value_from: EnvVarSource | None = None


class GcsStorageOptions(ApiModel):
    """Persistent volume for the rocksdb GCS backend."""

    claim_name: str | None = None
    size: Quantity | None = None
    storage_class_name: str | None = None
    access_modes: list[str] | None = None
    sub_path: str | None = None
    deletion_policy: Literal["DeleteWithCluster", "Retain"] | None = None


class GcsFaultToleranceOptions(ApiModel):
    """GCS fault tolerance through external Redis or embedded rocksdb storage."""

    redis_address: str | None = None
    redis_password: RedisCredential | None = None
    redis_username: RedisCredential | None = None
    external_storage_namespace: str | None = None
    backend: Literal["redis", "rocksdb"] | None = Field(
        default=None, json_schema_extra=cel.validations(cel.GCS_BACKEND_IMMUTABLE)
    )
    """Storage backend; immutable once set."""
    storage: GcsStorageOptions | None = None


class IngressOptions(ApiModel):
    """Ingress for the head's dashboard."""

    host: str | None = None
    path: str | None = None
    path_type: Literal["Exact", "Prefix", "ImplementationSpecific"] | None = None
    tls: list[IngressTLS] | None = None


class HeadGroupSpec(ApiModel):
    """The head Pod of the cluster."""

    template: PodTemplateSpec
    """Pod template of the head; containers[0] is the Ray container."""
    ray_start_params: StringMap | None = None
    """Flags for `ray start` (without the leading dashes)."""
    service_type: str | None = None
    """Type of the head Service (ClusterIP by default, made headless)."""
    head_service: ServiceTemplate | None = None
    """A full Service used as the template of the head Service."""
    enable_ingress: bool | None = None
    ingress_options: IngressOptions | None = None
    resources: StringMap | None = None
    """Ray resources; overrides num-cpus, num-gpus, memory and resources in rayStartParams."""
    labels: StringMap | None = None
    """Ray node labels, also applied to the Pod."""


class ScaleStrategy(ApiModel):
    """Pods the autoscaler asks the operator to delete."""

    workers_to_delete: list[str] | None = None


class WorkerGroupSpec(ApiModel):
    """A group of identical worker Pods."""

    group_name: str
    template: PodTemplateSpec
    """Pod template of the workers; containers[0] is the Ray container."""
    replicas: Int32 | None = 0
    min_replicas: Int32 | None = 0
    max_replicas: Int32 | None = MAX_INT32
    num_of_hosts: Int32 = 1
    """Hosts per replica; above 1 gives multi-host (TPU) replicas."""
    idle_timeout_seconds: Int32 | None = None
    priority: Int32 | None = 0
    ray_start_params: StringMap | None = None
    scale_strategy: ScaleStrategy | None = None
    suspend: bool | None = None
    """Internal: set by the RayJob DeleteWorkers deletion policy."""
    resources: StringMap | None = None
    labels: StringMap | None = None


class UpgradeStrategy(ApiModel):
    """How changes to the spec reach running Pods."""

    type: Literal["Recreate", "None"] | None = None


class AuthOptions(ApiModel):
    """Ray token authentication."""

    mode: Literal["disabled", "token"] | None = None
    secret_name: str | None = None
    enable_k8s_token_auth: Annotated[bool | None, Field(alias="enableK8sTokenAuth")] = None


class NetworkPolicyRules(ApiModel):
    """Extra ingress and egress rules for a set of Pods."""

    ingress_rules: list[NetworkPolicyIngressRule] | None = None
    egress_rules: list[NetworkPolicyEgressRule] | None = None


class WorkerGroupNetworkPolicy(NetworkPolicyRules):
    """Extra rules for one worker group."""

    group_name: str


class NetworkPolicyOptions(ApiModel):
    """NetworkPolicies isolating the cluster (feature gate RayClusterNetworkPolicy)."""

    mode: Literal["DenyAll", "DenyAllIngress", "DenyAllEgress"] | None = "DenyAll"
    head: NetworkPolicyRules | None = None
    worker: NetworkPolicyRules | None = None
    worker_groups: list[WorkerGroupNetworkPolicy] | None = Field(
        default=None,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["groupName"]},
    )


class TLSOptions(ApiModel):
    """mTLS between Ray nodes (feature gate RayClusterMTLS)."""

    enabled: bool | None = None


class CollectorOptions(ApiModel):
    """The history-server collector sidecar."""

    image: str | None = None
    image_pull_policy: str | None = None
    env: list[EnvVar] | None = None
    resources: ResourceRequirements | None = None


class HistoryServerOptions(ApiModel):
    """History server integration (feature gate RayClusterHistoryServer)."""

    collector_options: CollectorOptions | None = None


class RayClusterSpec(ApiModel):
    """Desired state of a Ray cluster."""

    head_group_spec: HeadGroupSpec
    worker_group_specs: list[WorkerGroupSpec] | None = None
    ray_version: str | None = None
    enable_in_tree_autoscaling: bool | None = None
    autoscaler_options: AutoscalerOptions | None = None
    head_service_annotations: StringMap | None = None
    suspend: bool | None = None
    managed_by: ManagedBy = None
    """Controller that manages this object: ray.io/kuberay-operator or kueue.x-k8s.io/multikueue."""
    gcs_fault_tolerance_options: GcsFaultToleranceOptions | None = None
    upgrade_strategy: UpgradeStrategy | None = None
    auth_options: AuthOptions | None = None
    network_policy: NetworkPolicyOptions | None = None
    tls_options: TLSOptions | None = None
    history_server_options: HistoryServerOptions | None = None


class HeadInfo(ApiModel):
    """Where the head runs."""

    pod_ip: Annotated[str | None, Field(alias="podIP")] = None
    pod_name: str | None = None
    service_ip: Annotated[str | None, Field(alias="serviceIP")] = None
    service_name: str | None = None


class RayClusterStatus(ApiModel):
    """Observed state of a Ray cluster."""

    state: str | None = None
    """ready or suspended (deprecated in favour of conditions)."""
    reason: str | None = None
    conditions: list[Condition] | None = conditions_field()
    desired_worker_replicas: Int32 | None = None
    min_worker_replicas: Int32 | None = None
    max_worker_replicas: Int32 | None = None
    ready_worker_replicas: Int32 | None = None
    available_worker_replicas: Int32 | None = None
    desired_cpu: Annotated[Quantity | None, Field(alias="desiredCPU")] = None
    desired_memory: Quantity | None = None
    desired_gpu: Annotated[Quantity | None, Field(alias="desiredGPU")] = None
    desired_tpu: Annotated[Quantity | None, Field(alias="desiredTPU")] = None
    head: HeadInfo | None = None
    endpoints: StringMap | None = None
    last_update_time: Time | None = None
    state_transition_times: dict[str, Time] | None = None
    observed_generation: Int64 | None = None


class RayCluster(ApiModel):
    """A Ray cluster: one head Pod and groups of worker Pods."""

    api_version: str | None = None
    kind: str | None = None
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: RayClusterSpec
    status: RayClusterStatus | None = None
