"""The operator's configuration, built once from flags and environment; the only module that reads
`os.environ`. Builders and planners receive it as an argument, never read the environment."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    value = environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() == "true"


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    try:
        return int(environ.get(name, default))
    except ValueError:
        return default


# KubeRay v1.7's feature gates and their defaults (reference §3.1).
FEATURE_GATES = {
    "RayClusterStatusConditions": True,
    "RayJobDeletionPolicy": True,
    "RayMultiHostIndexing": True,
    "RayServiceIncrementalUpgrade": True,
    "RayCronJob": False,
    "SidecarSubmitterRestart": False,
    "RayClusterNetworkPolicy": False,
    "GCSFaultToleranceEmbeddedStorage": False,
    "RayClusterMTLS": False,
    "RayClusterHistoryServer": False,
    "KubernetesWAS": False,
}
# What raykopf implements: these behave as KubeRay's do when on and cannot be turned off.
IMPLEMENTED_GATES = frozenset({"RayClusterStatusConditions", "RayJobDeletionPolicy", "RayMultiHostIndexing"})


def parse_feature_gates(text: str) -> tuple[dict[str, bool], list[str]]:
    """`--feature-gates A=true,B=false` over KubeRay's defaults, and a warning for each gate that is
    unknown, malformed, or set to what raykopf does not do. Never fatal, as the issue asks."""
    gates, warnings = dict(FEATURE_GATES), []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, _, value = item.partition("=")
        name, value = name.strip(), value.strip().lower()
        if value not in ("true", "false"):
            warnings.append(f"feature gate {item!r}: expected NAME=true|false; ignored")
            continue
        if name not in FEATURE_GATES:
            warnings.append(f"unknown feature gate {name!r}; ignored")
            continue
        gates[name] = value == "true"
        if gates[name] and name not in IMPLEMENTED_GATES:
            warnings.append(f"feature gate {name} is not implemented by raykopf; it has no effect")
        if not gates[name] and name in IMPLEMENTED_GATES:
            warnings.append(f"feature gate {name} cannot be turned off in raykopf; it stays on")
    return gates, warnings


@dataclass(frozen=True)
class OperatorConfig:
    """KubeRay's operator-level knobs (reference §3.1), with KubeRay's defaults."""

    enable_init_container_injection: bool = True
    enable_probes_injection: bool = True
    enable_ray_head_cluster_ip_service: bool = False
    enable_random_pod_delete: bool = False
    enable_gcs_ft_redis_cleanup: bool = True
    enable_zero_downtime: bool = True
    enable_deterministic_head_pod_name: bool = False
    enable_login_shell: bool = False
    delete_rayjob_cr_after_job_finishes: bool = False
    use_ingress_on_openshift: bool = False
    raycluster_default_requeue_seconds: int = 300
    rayjob_deployment_status_transition_grace_period_seconds: int = 300
    rayjob_status_check_timeout_seconds: int = 300
    cluster_domain: str = "cluster.local"
    # KubeRay's ENABLE_WEBHOOKS (exactly "true"): serve the admission webhook on :9443.
    enable_webhooks: bool = False
    # --use-kubernetes-proxy: reach Ray dashboards through the apiserver (an operator outside the cluster).
    use_kubernetes_proxy: bool = False
    # From KubeRay's configuration file (`--config`): added to every head and worker Pod.
    default_container_envs: tuple[dict[str, Any], ...] = field(default=())
    head_sidecar_containers: tuple[dict[str, Any], ...] = field(default=())
    worker_sidecar_containers: tuple[dict[str, Any], ...] = field(default=())
    default_pod_annotations: tuple[tuple[str, str], ...] = field(default=())
    default_pod_labels: tuple[tuple[str, str], ...] = field(default=())
    # raykopf's own (`--max-pods-per-cluster`): a RayCluster that asks for more Pods is refused.
    max_pods_per_cluster: int = 10_000
    feature_gates: tuple[tuple[str, bool], ...] = field(default=tuple(sorted(FEATURE_GATES.items())))

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> OperatorConfig:
        env = os.environ if environ is None else environ
        return cls(
            enable_init_container_injection=_flag(env, "ENABLE_INIT_CONTAINER_INJECTION", True),
            enable_probes_injection=_flag(env, "ENABLE_PROBES_INJECTION", True),
            enable_ray_head_cluster_ip_service=_flag(env, "ENABLE_RAY_HEAD_CLUSTER_IP_SERVICE", False),
            enable_random_pod_delete=_flag(env, "ENABLE_RANDOM_POD_DELETE", False),
            enable_gcs_ft_redis_cleanup=_flag(env, "ENABLE_GCS_FT_REDIS_CLEANUP", True),
            enable_zero_downtime=_flag(env, "ENABLE_ZERO_DOWNTIME", True),
            enable_deterministic_head_pod_name=_flag(env, "ENABLE_DETERMINISTIC_HEAD_POD_NAME", False),
            enable_login_shell=_flag(env, "ENABLE_LOGIN_SHELL", False),
            delete_rayjob_cr_after_job_finishes=_flag(env, "DELETE_RAYJOB_CR_AFTER_JOB_FINISHES", False),
            use_ingress_on_openshift=_flag(env, "USE_INGRESS_ON_OPENSHIFT", False),
            raycluster_default_requeue_seconds=_int(env, "RAYCLUSTER_DEFAULT_REQUEUE_SECONDS_ENV", 300),
            rayjob_deployment_status_transition_grace_period_seconds=_int(
                env, "RAYJOB_DEPLOYMENT_STATUS_TRANSITION_GRACE_PERIOD_SECONDS", 300
            ),
            rayjob_status_check_timeout_seconds=_int(env, "RAYJOB_STATUS_CHECK_TIMEOUT_SECONDS", 300),
            cluster_domain=env.get("CLUSTER_DOMAIN") or "cluster.local",
            enable_webhooks=env.get("ENABLE_WEBHOOKS") == "true",
        )


def with_configuration(config: OperatorConfig, document: Mapping[str, Any]) -> OperatorConfig:
    """`config` with what a checked KubeRay Configuration (`--config`) says about Pods and RayJobs. As
    KubeRay, the file's deleteRayJobAfterJobFinishes replaces the environment's."""

    def items(key: str) -> tuple[dict[str, Any], ...]:
        return tuple(copy.deepcopy(item) for item in document.get(key) or [])

    def pairs(key: str) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((document.get(key) or {}).items()))

    return replace(
        config,
        default_container_envs=items("defaultContainerEnvs"),
        head_sidecar_containers=items("headSidecarContainers"),
        worker_sidecar_containers=items("workerSidecarContainers"),
        default_pod_annotations=pairs("defaultPodAnnotations"),
        default_pod_labels=pairs("defaultPodLabels"),
        delete_rayjob_cr_after_job_finishes=bool(document.get("deleteRayJobAfterJobFinishes")),
    )


def kubeconfig_paths(flag: Path | None) -> list[Path] | None:
    """As client-go: the flag, else every file of $KUBECONFIG (merged), else None in a cluster (the
    service account), else ~/.kube/config."""
    if flag is not None:
        return [flag]
    listed = [Path(p) for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        return listed
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return None
    home = Path.home() / ".kube" / "config"
    return [home] if home.exists() else None


def in_cluster_server() -> str | None:
    """The apiserver as a Pod sees it (kubelet's KUBERNETES_SERVICE_HOST/PORT), or None outside one."""
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        return None
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def pod_name() -> str:
    return os.environ.get("HOSTNAME") or os.uname().nodename
