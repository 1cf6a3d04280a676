"""ray.io/v1 API models: the single source of truth for the CRDs."""

from raykopf.api.raycluster import RayCluster, RayClusterSpec, RayClusterStatus
from raykopf.api.rayjob import RayJob, RayJobSpec, RayJobStatus
from raykopf.api.rayservice import RayService, RayServiceSpec, RayServiceStatus

__all__ = [
    "RayCluster",
    "RayClusterSpec",
    "RayClusterStatus",
    "RayJob",
    "RayJobSpec",
    "RayJobStatus",
    "RayService",
    "RayServiceSpec",
    "RayServiceStatus",
]
