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

# Labels (utils/constant.go).
RAY_CLUSTER_LABEL = "ray.io/cluster"
RAY_NODE_TYPE_LABEL = "ray.io/node-type"
RAY_NODE_GROUP_LABEL = "ray.io/group"
RAY_NODE_LABEL = "ray.io/is-ray-node"
RAY_ID_LABEL = "ray.io/identifier"
RAY_SERVE_LABEL = "ray.io/serve"
RAY_WORKER_REPLICA_INDEX_LABEL = "ray.io/worker-group-replica-index"
RAY_WORKER_REPLICA_NAME_LABEL = "ray.io/worker-group-replica-name"
RAY_HOST_INDEX_LABEL = "ray.io/replica-host-index"
RAY_ORIGINATED_FROM_CR_NAME_LABEL = "ray.io/originated-from-cr-name"
RAY_ORIGINATED_FROM_CRD_LABEL = "ray.io/originated-from-crd"
K8S_APP_NAME_LABEL = "app.kubernetes.io/name"
K8S_CREATED_BY_LABEL = "app.kubernetes.io/created-by"
APPLICATION_NAME = "kuberay"
COMPONENT_NAME = "kuberay-operator"
HEAD_NODE = "head"
WORKER_NODE = "worker"
HEAD_GROUP = "headgroup"

RAY_OVERWRITE_CONTAINER_CMD_ANNOTATION = "ray.io/overwrite-container-cmd"

# Ports and names.
DEFAULT_GCS_SERVER_PORT = 6379
DEFAULT_DASHBOARD_PORT = 8265
DEFAULT_CLIENT_PORT = 10001
DEFAULT_METRICS_PORT = 8080
DEFAULT_SERVING_PORT = 8000
DEFAULT_DASHBOARD_AGENT_LISTEN_PORT = 52365
METRICS_PORT_NAME = "metrics"
SERVING_PORT_NAME = "serve"
AUTOSCALER_CONTAINER_NAME = "autoscaler"
WAIT_GCS_READY_CONTAINER_NAME = "wait-gcs-ready"
SHARED_MEMORY_VOLUME = "shared-mem"
RAY_LOG_VOLUME = "ray-logs"

# Env vars injected into Ray containers.
RAY_CLUSTER_NAME = "RAY_CLUSTER_NAME"
RAY_CLUSTER_NAMESPACE = "RAY_CLUSTER_NAMESPACE"
RAY_CLOUD_INSTANCE_ID = "RAY_CLOUD_INSTANCE_ID"
RAY_NODE_TYPE_NAME = "RAY_NODE_TYPE_NAME"
RAY_PORT = "RAY_PORT"
RAY_ADDRESS = "RAY_ADDRESS"
FQ_RAY_IP = "FQ_RAY_IP"
RAY_IP = "RAY_IP"
KUBERAY_GEN_RAY_START_CMD = "KUBERAY_GEN_RAY_START_CMD"
KUBERAY_GEN_AUTOSCALER_START_CMD = "KUBERAY_GEN_AUTOSCALER_START_CMD"
RAY_USAGE_STATS_KUBERAY_IN_USE = "RAY_USAGE_STATS_KUBERAY_IN_USE"
RAY_USAGE_STATS_EXTRA_TAGS = "RAY_USAGE_STATS_EXTRA_TAGS"
RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE = "RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE"
RAY_EXTERNAL_STORAGE_NS = "RAY_external_storage_namespace"
RAY_GCS_RPC_SERVER_RECONNECT_TIMEOUT_S = "RAY_gcs_rpc_server_reconnect_timeout_s"
RAY_START_ULIMIT_OPEN_FILES = "RAY_START_ULIMIT_OPEN_FILES"
RAY_AUTH_MODE = "RAY_AUTH_MODE"
RAY_AUTH_TOKEN = "RAY_AUTH_TOKEN"
RAY_AUTH_TOKEN_SECRET_KEY = "auth_token"
RAY_ENABLE_K8S_TOKEN_AUTH = "RAY_ENABLE_K8S_TOKEN_AUTH"
# Kubernetes token authentication: a projected ServiceAccount token instead of a shared Secret.
RAY_TOKEN_VOLUME = "ray-token"
RAY_TOKEN_MOUNT_PATH = "/var/run/secrets/ray.io/serviceaccount"
KUBERAY_VERSION = "v1.7.0"
RAY_HEADLESS_SERVICE_LABEL = "ray.io/headless-worker-svc"
DEFAULT_SERVICE_APP_PROTOCOL = "tcp"
DEFAULT_HEAD_SERVICE_PORTS = {
    "client": DEFAULT_CLIENT_PORT,
    "gcs-server": DEFAULT_GCS_SERVER_PORT,
    "dashboard": DEFAULT_DASHBOARD_PORT,
    "metrics": DEFAULT_METRICS_PORT,
    "serve": DEFAULT_SERVING_PORT,
}
UPGRADE_STRATEGY_RECREATE_HASH_ANNOTATION = "ray.io/upgrade-strategy-recreate-hash"
KUBERAY_VERSION_ANNOTATION = "ray.io/kuberay-version"
# Written into ray.io/kuberay-version. Not KubeRay's own version string: a cluster handed over from
# KubeRay then differs in version, so its head gets our hash instead of a needless Recreate.
OPERATOR_VERSION = "raykopf-v0.1.0"
DISABLE_PROVISIONED_HEAD_RESTART_ANNOTATION = "ray.io/disable-provisioned-head-restart"
GCS_FT_REDIS_CLEANUP_FINALIZER = "ray.io/gcs-ft-redis-cleanup-finalizer"
GCS_FT_DELETION_TIMEOUT_ANNOTATION = "ray.io/gcs-ft-deletion-timeout"
GCS_FT_DELETION_TIMEOUT_SECONDS = 300
REDIS_CLEANUP_NODE = "redis-cleanup"

# The admission webhook as controller-runtime serves KubeRay's (ENABLE_WEBHOOKS=true): port and
# certificate folder, so that a Secret mounted for KubeRay's works as is.
WEBHOOK_PORT = 9443
WEBHOOK_CERT_DIR = "/tmp/k8s-webhook-server/serving-certs"
