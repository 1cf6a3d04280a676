"""RayService ray.io/v1 (≙ ray-operator/apis/ray/v1/rayservice_types.go)."""

from __future__ import annotations

from pydantic import Field

from raykopf.api.base import (
    ApiModel,
    Condition,
    Int32,
    Int64,
    ObjectMeta,
    ServiceTemplate,
    Time,
    conditions_field,
)
from raykopf.api.raycluster import ManagedBy, RayClusterSpec, RayClusterStatus


class ClusterUpgradeOptions(ApiModel):
    """Incremental (Gateway API) upgrade settings."""

    max_surge_percent: Int32 | None = 100
    step_size_percent: Int32 | None = None
    interval_seconds: Int32 | None = None
    gateway_class_name: str | None = None


class RayServiceUpgradeStrategy(ApiModel):
    """NewCluster (default), NewClusterWithIncrementalUpgrade or None."""

    type: str | None = None
    cluster_upgrade_options: ClusterUpgradeOptions | None = None


class RayServiceSpec(ApiModel):
    """Desired state of Ray Serve applications and the cluster that serves them."""

    ray_cluster_config: RayClusterSpec = Field(alias="rayClusterConfig")
    serve_config_v2: str | None = Field(default=None, alias="serveConfigV2")
    """The multi-application Serve config, as YAML."""
    upgrade_strategy: RayServiceUpgradeStrategy | None = None
    ray_cluster_deletion_delay_seconds: Int32 | None = Field(default=None, ge=0)
    """Seconds before a replaced cluster is deleted (default 60)."""
    serve_service: ServiceTemplate | None = None
    exclude_head_pod_from_serve_svc: bool | None = None
    managed_by: ManagedBy = None
    suspend: bool | None = None
    service_unhealthy_second_threshold: Int32 | None = None
    """Deprecated and unused since KubeRay v1.1; accepted for compatibility."""
    deployment_unhealthy_second_threshold: Int32 | None = None
    """Deprecated and unused since KubeRay v1.1; accepted for compatibility."""


class ServeDeploymentStatus(ApiModel):
    """One Serve deployment, as Ray reports it."""

    status: str | None = None
    message: str | None = None


class AppStatus(ApiModel):
    """One Serve application, as Ray reports it."""

    status: str | None = None
    message: str | None = None
    serve_deployment_statuses: dict[str, ServeDeploymentStatus] | None = None


class RayServiceClusterStatus(ApiModel):
    """The Serve state of the active or the pending cluster."""

    ray_cluster_name: str | None = None
    ray_cluster_status: RayClusterStatus | None = None
    application_statuses: dict[str, AppStatus] | None = None
    target_capacity: Int32 | None = None
    traffic_routed_percent: Int32 | None = None
    last_traffic_migrated_time: Time | None = None


class RayServiceStatus(ApiModel):
    """Observed state of a RayService."""

    service_status: str | None = None
    """Running or empty; mirrors the Ready condition (deprecated)."""
    num_serve_endpoints: Int32 | None = None
    active_service_status: RayServiceClusterStatus | None = None
    pending_service_status: RayServiceClusterStatus | None = None
    conditions: list[Condition] | None = conditions_field()
    last_update_time: Time | None = None
    observed_generation: Int64 | None = None


class RayService(ApiModel):
    """Ray Serve applications with zero-downtime upgrades."""

    api_version: str | None = None
    kind: str | None = None
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: RayServiceSpec
    status: RayServiceStatus | None = None
