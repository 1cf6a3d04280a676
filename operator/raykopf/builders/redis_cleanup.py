"""The Job that deletes a GCS fault-tolerant cluster's storage namespace in Redis after the cluster
is deleted (≙ KubeRay's buildRedisCleanupJob): the head Pod with only its Ray container, which runs
Ray's own `cleanup_redis_storage`."""

from __future__ import annotations

from typing import Any

from raykopf import constants as c
from raykopf import naming
from raykopf.api import RayCluster
from raykopf.builders.pod import bash_command, build_head_pod
from raykopf.config import OperatorConfig

DOCS = "https://docs.ray.io/en/master/cluster/kubernetes/user-guides/kuberay-gcs-ft.html"


def cleanup_script(with_username: bool) -> str:
    username = "username=os.getenv('REDIS_USERNAME', parsed.username), " if with_username else ""
    return (
        f'echo "To get more information about manually deleting the storage namespace in Redis and removing '
        f"the RayCluster's finalizer, please check {DOCS} for more details.\" && "
        'python -c "from ray._private.gcs_utils import cleanup_redis_storage; '
        "from urllib.parse import urlparse; "
        "import os; "
        "import sys; "
        "redis_address = os.getenv('RAY_REDIS_ADDRESS', '').split(',')[0]; "
        "redis_address = redis_address if '://' in redis_address else 'redis://' + redis_address; "
        "parsed = urlparse(redis_address); "
        "sys.exit(1) if not cleanup_redis_storage(host=parsed.hostname, port=parsed.port, "
        f"{username}password=os.getenv('REDIS_PASSWORD', parsed.password or ''), "
        "use_ssl=parsed.scheme=='rediss', "
        "storage_namespace=os.getenv('RAY_external_storage_namespace')) else None\""
    )


def build_redis_cleanup_job(cluster: RayCluster, config: OperatorConfig) -> dict[str, Any]:
    pod = build_head_pod(cluster, config)
    meta, spec = pod["metadata"], pod["spec"]
    meta["labels"][c.RAY_NODE_TYPE_LABEL] = c.REDIS_CLEANUP_NODE
    meta.pop("generateName", None)
    ray = spec["containers"][c.RAY_CONTAINER_INDEX]
    spec["containers"] = [ray]  # no autoscaler sidecar
    with_username = any(e.get("name") == c.REDIS_USERNAME for e in ray.get("env") or [])
    ray["command"] = bash_command(config)
    ray["args"] = [cleanup_script(with_username)]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        ray.pop(probe, None)
    ray.setdefault("env", []).extend(
        [
            {"name": "RAY_redis_db_connect_retries", "value": "120"},
            {"name": "RAY_redis_db_connect_wait_milliseconds", "value": "500"},
        ]
    )
    fixed = {"cpu": "200m", "memory": "256Mi"}
    ray["resources"] = {"limits": dict(fixed), "requests": dict(fixed)}
    spec["restartPolicy"] = "Never"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": naming.redis_cleanup_job(cluster.metadata.name or ""),
            "namespace": cluster.metadata.namespace,
            "labels": dict(meta["labels"]),
            "annotations": dict(meta.get("annotations") or {}),
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": 300,
            "template": {"metadata": meta, "spec": spec},
        },
    }
