"""CRD metadata per kind: names, printer columns and the models of spec and status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from raykopf.api.base import ApiModel
from raykopf.api.raycluster import RayCluster, RayClusterSpec, RayClusterStatus
from raykopf.api.rayjob import RayJob, RayJobSpec, RayJobStatus
from raykopf.api.rayservice import RayService, RayServiceSpec, RayServiceStatus


@dataclass(frozen=True)
class Kind:
    """One ray.io kind and everything its CRD needs."""

    kind: str
    plural: str
    model: type[ApiModel]
    spec: type[BaseModel]
    status: type[ApiModel]
    printer_columns: tuple[dict[str, Any], ...]
    description: str

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


def _column(name: str, json_path: str, type_: str, *, priority: int = 0) -> dict[str, Any]:
    column: dict[str, Any] = {"jsonPath": json_path, "name": name, "type": type_}
    if priority:
        column["priority"] = priority
    return column


_AGE = _column("age", ".metadata.creationTimestamp", "date")

KINDS: dict[str, Kind] = {
    "RayCluster": Kind(
        kind="RayCluster",
        plural="rayclusters",
        model=RayCluster,
        spec=RayClusterSpec,
        status=RayClusterStatus,
        description="RayCluster is the Schema for the RayClusters API",
        printer_columns=(
            _column("desired workers", ".status.desiredWorkerReplicas", "integer"),
            _column("available workers", ".status.availableWorkerReplicas", "integer"),
            _column("cpus", ".status.desiredCPU", "string"),
            _column("memory", ".status.desiredMemory", "string"),
            _column("gpus", ".status.desiredGPU", "string"),
            _column("tpus", ".status.desiredTPU", "string", priority=1),
            _column("status", ".status.state", "string"),
            _AGE,
            _column("head pod IP", ".status.head.podIP", "string", priority=1),
            _column("head service IP", ".status.head.serviceIP", "string", priority=1),
        ),
    ),
    "RayJob": Kind(
        kind="RayJob",
        plural="rayjobs",
        model=RayJob,
        spec=RayJobSpec,
        status=RayJobStatus,
        description="RayJob is the Schema for the rayjobs API",
        printer_columns=(
            _column("job status", ".status.jobStatus", "string"),
            _column("deployment status", ".status.jobDeploymentStatus", "string"),
            _column("ray cluster name", ".status.rayClusterName", "string"),
            _column("start time", ".status.startTime", "string"),
            _column("end time", ".status.endTime", "string"),
            _AGE,
        ),
    ),
    "RayService": Kind(
        kind="RayService",
        plural="rayservices",
        model=RayService,
        spec=RayServiceSpec,
        status=RayServiceStatus,
        description="RayService is the Schema for the rayservices API",
        printer_columns=(
            _column("service status", ".status.serviceStatus", "string"),
            _column("num serve endpoints", ".status.numServeEndpoints", "string"),
        ),
    ),
}
