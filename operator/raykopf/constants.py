"""KubeRay's strings, verbatim (ray-operator/controllers/ray/utils/constant.go)."""

GROUP = "ray.io"
STORAGE_VERSION = "v1"
SERVED_VERSIONS = ("v1", "v1alpha1")

KUBERAY_MANAGED_BY = "ray.io/kuberay-operator"
MULTIKUEUE_MANAGED_BY = "kueue.x-k8s.io/multikueue"

# Name length limits: "-serve-svc" must fit in 63 for clusters; "-<5 random>" is appended for
# the clusters a RayJob or RayService creates.
MAX_RAYCLUSTER_NAME_LENGTH = 53
MAX_RAYJOB_NAME_LENGTH = 47
MAX_RAYSERVICE_NAME_LENGTH = 47

RAY_FT_ENABLED_ANNOTATION = "ray.io/ft-enabled"
RAY_EXTERNAL_STORAGE_NS_ANNOTATION = "ray.io/external-storage-namespace"
RAYSERVICE_INITIALIZING_TIMEOUT_ANNOTATION = "ray.io/initializing-timeout"
RAYJOB_CLUSTER_SELECTOR_KEY = "ray.io/cluster"

RAY_REDIS_ADDRESS = "RAY_REDIS_ADDRESS"
REDIS_PASSWORD = "REDIS_PASSWORD"
REDIS_USERNAME = "REDIS_USERNAME"
RAY_ENABLE_AUTOSCALER_V2 = "RAY_enable_autoscaler_v2"

RAY_CONTAINER_INDEX = 0

# RayJob submission modes and the other enumerations KubeRay compares against.
K8S_JOB_MODE = "K8sJobMode"
HTTP_MODE = "HTTPMode"
SIDECAR_MODE = "SidecarMode"
INTERACTIVE_MODE = "InteractiveMode"
SUBMISSION_MODES = (K8S_JOB_MODE, HTTP_MODE, SIDECAR_MODE, INTERACTIVE_MODE)

RAYSERVICE_UPGRADE_TYPES = ("NewCluster", "NewClusterWithIncrementalUpgrade", "None")

# Event reasons for invalid objects.
INVALID_RAYCLUSTER_SPEC = "InvalidRayClusterSpec"
INVALID_RAYCLUSTER_METADATA = "InvalidRayClusterMetadata"
INVALID_RAYJOB_SPEC = "InvalidRayJobSpec"
INVALID_RAYJOB_METADATA = "InvalidRayJobMetadata"
INVALID_RAYSERVICE_SPEC = "InvalidRayServiceSpec"
INVALID_RAYSERVICE_METADATA = "InvalidRayServiceMetadata"
