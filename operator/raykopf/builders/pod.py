"""Head and worker Pods (≙ common.DefaultHeadPodTemplate, DefaultWorkerPodTemplate and BuildPod)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from raykopf import constants as c
from raykopf import naming
from raykopf.api.raycluster import HeadGroupSpec, RayCluster, WorkerGroupSpec
from raykopf.builders import raystart
from raykopf.builders.labels import pod_labels
from raykopf.config import OperatorConfig

RAY_NODE_HEALTH_PATH = "/api/healthz"
WGET_HEALTH = "wget --tries 1 -T {timeout} -q -O- http://localhost:{port}/{path} | grep success"
AUTOSCALER_START = (
    "ray kuberay-autoscaler --cluster-name $(RAY_CLUSTER_NAME) --cluster-namespace $(RAY_CLUSTER_NAMESPACE)"
)


@dataclass(frozen=True)
class Creator:
    """Which kind created the RayCluster; RayService clusters get serve-specific settings."""

    kind: str = "RayCluster"

    @property
    def is_rayservice(self) -> bool:
        return self.kind == "RayService"


RAYCLUSTER_CREATOR = Creator()


def creator_of(cluster: RayCluster) -> Creator:
    """KubeRay reads the creating kind from the cluster's `ray.io/originated-from-crd` label."""
    kind = (cluster.metadata.labels or {}).get(c.RAY_ORIGINATED_FROM_CRD_LABEL)
    return Creator(kind) if kind in ("RayJob", "RayService") else RAYCLUSTER_CREATOR


def _env_exists(container: dict[str, Any], name: str) -> bool:
    return any(e.get("name") == name for e in container.get("env") or [])


def _add_env(
    container: dict[str, Any],
    name: str,
    value: str | None = None,
    *,
    field_path: str | None = None,
    only_if_absent: bool = False,
) -> None:
    if only_if_absent and _env_exists(container, name):
        return
    var: dict[str, Any] = {"name": name}
    if field_path is not None:
        var["valueFrom"] = {"fieldRef": {"fieldPath": field_path}}
    else:
        var["value"] = value or ""
    container.setdefault("env", []).append(var)


def bash_command(config: OperatorConfig, options: str = "") -> list[str]:
    """`/bin/bash -c<options> --`, with `l` last under ENABLE_LOGIN_SHELL (`-cl`, `-cel`), as KubeRay
    writes it (GetContainerCommand)."""
    return ["/bin/bash", f"-c{options}{'l' if config.enable_login_shell else ''}", "--"]


def head_port(head: HeadGroupSpec) -> str:
    return (head.ray_start_params or {}).get("port", str(c.DEFAULT_GCS_SERVER_PORT))


def head_fqdn(cluster: RayCluster, config: OperatorConfig) -> str:
    head_service = (cluster.spec.head_group_spec.head_service or {}).get("metadata", {}).get("name")
    name = head_service or naming.head_service(cluster.metadata.name or "")
    return naming.fqdn(name, cluster.metadata.namespace or "default", config.cluster_domain)


def is_autoscaling(cluster: RayCluster) -> bool:
    return bool(cluster.spec.enable_in_tree_autoscaling)


def is_autoscaling_v2(cluster: RayCluster) -> bool:
    options = cluster.spec.autoscaler_options
    if options is not None and options.version is not None:
        return options.version == "v2"
    env = cluster.spec.head_group_spec.template.get("spec", {}).get("containers", [{}])[0].get("env") or []
    return any(
        e.get("name") == c.RAY_ENABLE_AUTOSCALER_V2 and str(e.get("value")).lower() in ("1", "true")
        for e in env
    )


def is_ft_enabled(cluster: RayCluster) -> bool:
    annotations = cluster.metadata.annotations or {}
    return (
        cluster.spec.gcs_fault_tolerance_options is not None
        or annotations.get(c.RAY_FT_ENABLED_ANNOTATION, "").lower() == "true"
    )


def _add_metrics_port(container: dict[str, Any]) -> None:
    if not any(p.get("name") == c.METRICS_PORT_NAME for p in container.get("ports") or []):
        container.setdefault("ports", []).append(
            {"name": c.METRICS_PORT_NAME, "containerPort": c.DEFAULT_METRICS_PORT}
        )


def _configure_gcs_ft(
    template: dict[str, Any], cluster: RayCluster, node_type: str, params: dict[str, str]
) -> None:
    enabled = is_ft_enabled(cluster)
    annotations = template["metadata"].setdefault("annotations", {})
    if node_type == c.HEAD_NODE:
        annotations[c.RAY_FT_ENABLED_ANNOTATION] = "true" if enabled else "false"
    if not enabled:
        return
    container = template["spec"]["containers"][c.RAY_CONTAINER_INDEX]
    if node_type == c.WORKER_NODE:
        _add_env(container, c.RAY_GCS_RPC_SERVER_RECONNECT_TIMEOUT_S, "600", only_if_absent=True)
        return
    options = cluster.spec.gcs_fault_tolerance_options
    storage_ns = (cluster.metadata.annotations or {}).get(
        c.RAY_EXTERNAL_STORAGE_NS_ANNOTATION, cluster.metadata.uid or ""
    )
    if options is not None and options.external_storage_namespace:
        storage_ns = options.external_storage_namespace
    annotations[c.RAY_EXTERNAL_STORAGE_NS_ANNOTATION] = storage_ns
    _add_env(container, c.RAY_EXTERNAL_STORAGE_NS, storage_ns, only_if_absent=True)
    if options is None:
        if not _env_exists(container, c.REDIS_PASSWORD) and "redis-password" in params:
            _add_env(container, c.REDIS_PASSWORD, params["redis-password"])
        return
    _add_env(container, c.RAY_REDIS_ADDRESS, options.redis_address or "")
    for credential, env_name, param in (
        (options.redis_username, c.REDIS_USERNAME, "redis-username"),
        (options.redis_password, c.REDIS_PASSWORD, "redis-password"),
    ):
        if credential is None:
            continue
        params[param] = f"${env_name}"
        var: dict[str, Any] = {"name": env_name}
        if credential.value is not None:
            var["value"] = credential.value
        if credential.value_from is not None:
            var["valueFrom"] = copy.deepcopy(credential.value_from)
        container.setdefault("env", []).append(var)


def _configure_token_auth(
    template: dict[str, Any], cluster: RayCluster, containers: list[dict[str, Any]]
) -> None:
    """≙ common.configureTokenAuth / SetContainerTokenAuthEnvVars: RAY_AUTH_MODE, then either the
    shared token from the Secret or, with enableK8sTokenAuth, a projected ServiceAccount token."""
    auth = cluster.spec.auth_options
    if auth is None or auth.mode != "token":
        return
    kubernetes_auth = bool(auth.enable_k8s_token_auth)
    secret = auth.secret_name or naming.check_name(cluster.metadata.name or "")
    for container in containers:
        _add_env(container, c.RAY_AUTH_MODE, "token", only_if_absent=True)
        if kubernetes_auth:
            _add_env(container, c.RAY_ENABLE_K8S_TOKEN_AUTH, "true", only_if_absent=True)
            mounts = container.setdefault("volumeMounts", [])
            if not any(m.get("name") == c.RAY_TOKEN_VOLUME for m in mounts):
                mounts.append(
                    {"name": c.RAY_TOKEN_VOLUME, "mountPath": c.RAY_TOKEN_MOUNT_PATH, "readOnly": True}
                )
        elif not _env_exists(container, c.RAY_AUTH_TOKEN):
            container.setdefault("env", []).append(
                {
                    "name": c.RAY_AUTH_TOKEN,
                    "valueFrom": {"secretKeyRef": {"name": secret, "key": c.RAY_AUTH_TOKEN_SECRET_KEY}},
                }
            )
    volumes = template["spec"].setdefault("volumes", [])
    if kubernetes_auth and not any(v.get("name") == c.RAY_TOKEN_VOLUME for v in volumes):
        volumes.append(
            {
                "name": c.RAY_TOKEN_VOLUME,
                "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]},
            }
        )
    if not volumes:
        template["spec"].pop("volumes")


def autoscaler_container(cluster: RayCluster, image: str, config: OperatorConfig) -> dict[str, Any]:
    """≙ common.BuildAutoscalerContainer with the autoscalerOptions overrides merged in."""
    container: dict[str, Any] = {
        "name": c.AUTOSCALER_CONTAINER_NAME,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "env": [
            {
                "name": c.RAY_CLUSTER_NAME,
                "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{c.RAY_CLUSTER_LABEL}']"}},
            },
            {"name": c.RAY_CLUSTER_NAMESPACE, "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "RAY_HEAD_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "KUBERAY_CRD_VER", "value": "v1"},
            {"name": c.KUBERAY_GEN_AUTOSCALER_START_CMD, "value": AUTOSCALER_START},
        ],
        "command": bash_command(config),
        "args": [AUTOSCALER_START],
        "resources": {
            "limits": {"cpu": "500m", "memory": "512Mi"},
            "requests": {"cpu": "500m", "memory": "512Mi"},
        },
    }
    options = cluster.spec.autoscaler_options
    if options is None:
        return container
    if options.resources is not None:
        container["resources"] = copy.deepcopy(options.resources)
    if options.image is not None:
        container["image"] = options.image
    if options.image_pull_policy is not None:
        container["imagePullPolicy"] = options.image_pull_policy
    container["env"] += copy.deepcopy(options.env or [])
    if options.env_from:
        container["envFrom"] = copy.deepcopy(options.env_from)
    if options.volume_mounts:
        container["volumeMounts"] = copy.deepcopy(options.volume_mounts)
    if options.security_context is not None:
        container["securityContext"] = copy.deepcopy(options.security_context)
    if options.command is not None:
        container["command"] = list(options.command)
    if options.args is not None:
        container["args"] = list(options.args)
    return container


def _add_empty_dir(
    pod: dict[str, Any], container: dict[str, Any], name: str, path: str, memory: bool
) -> None:
    if any(m.get("mountPath") == path for m in container.get("volumeMounts") or []):
        return
    volumes = pod["spec"].setdefault("volumes", [])
    if not any(v.get("name") == name for v in volumes):
        empty_dir: dict[str, Any] = {}
        if memory:
            empty_dir["medium"] = "Memory"
            resources = container.get("resources") or {}
            size = (resources.get("limits") or {}).get("memory") or (resources.get("requests") or {}).get(
                "memory"
            )
            if size is not None:
                empty_dir["sizeLimit"] = size
        volumes.append({"name": name, "emptyDir": empty_dir})
    container.setdefault("volumeMounts", []).append({"name": name, "mountPath": path})


def _supports_http_health_check(ray_version: str | None) -> bool:
    parts = (ray_version or "").split(".")
    try:
        numbers = tuple(int(p) for p in parts[:3])
    except ValueError:
        return False
    return len(numbers) >= 2 and numbers >= (2, 53)


def _probes(
    container: dict[str, Any],
    node_type: str,
    creator: Creator,
    params: dict[str, str],
    ray_version: str | None,
) -> None:
    """≙ initLivenessAndReadinessProbe: only the probes the user did not set."""

    def port(key: str, default: int) -> int:
        try:
            return int(params[key])
        except (KeyError, ValueError):
            return default

    agent_port = port("dashboard-agent-listen-port", c.DEFAULT_DASHBOARD_AGENT_LISTEN_PORT)
    commands = [WGET_HEALTH.format(timeout=2, port=agent_port, path="api/local_raylet_healthz")]
    if node_type == c.HEAD_NODE:
        commands.append(
            WGET_HEALTH.format(
                timeout=10, port=port("dashboard-port", c.DEFAULT_DASHBOARD_PORT), path="api/gcs_healthz"
            )
        )
    http = _supports_http_health_check(ray_version)
    head = node_type == c.HEAD_NODE

    def action() -> dict[str, Any]:
        if http:
            return {"httpGet": {"path": RAY_NODE_HEALTH_PATH, "port": agent_port}}
        return {"exec": {"command": ["bash", "-c", " && ".join(commands)]}}

    if container.get("livenessProbe") is None:
        container["livenessProbe"] = {
            "initialDelaySeconds": 30,
            "timeoutSeconds": 5 if head else 2,
            "periodSeconds": 5,
            "successThreshold": 1,
            "failureThreshold": 120,
            **action(),
        }
    if container.get("readinessProbe") is None:
        probe = {
            "initialDelaySeconds": 10,
            "timeoutSeconds": 5 if head else 2,
            "periodSeconds": 5,
            "successThreshold": 1,
            "failureThreshold": 10,
            **action(),
        }
        if creator.is_rayservice and not head:
            serve_port = next(
                (
                    p["containerPort"]
                    for p in container.get("ports") or []
                    if p.get("name") == c.SERVING_PORT_NAME
                ),
                c.DEFAULT_SERVING_PORT,
            )
            probe.pop("httpGet", None)
            probe["failureThreshold"] = 1
            probe["exec"] = {
                "command": [
                    "bash",
                    "-c",
                    " && ".join(
                        [*commands, WGET_HEALTH.format(timeout=10, port=serve_port, path="-/healthz")]
                    ),
                ]
            }
        container["readinessProbe"] = probe


def _finish_pod(
    template: dict[str, Any],
    *,
    cluster: RayCluster,
    node_type: str,
    params: dict[str, str],
    creator: Creator,
    config: OperatorConfig,
    fqdn: str,
    port: str,
) -> dict[str, Any]:
    """≙ common.BuildPod: serve label, volumes, the generated command, env vars and probes."""
    labels = template["metadata"]["labels"]
    if creator.is_rayservice:
        labels[c.RAY_SERVE_LABEL] = "false" if node_type == c.HEAD_NODE else "true"
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": template["metadata"],
        "spec": template["spec"],
    }
    containers = pod["spec"]["containers"]
    ray = containers[c.RAY_CONTAINER_INDEX]
    if "plasma-directory" not in params:
        _add_empty_dir(pod, ray, c.SHARED_MEMORY_VOLUME, "/dev/shm", memory=True)
    if node_type == c.HEAD_NODE and is_autoscaling(cluster):
        autoscaler = next(x for x in containers if x.get("name") == c.AUTOSCALER_CONTAINER_NAME)
        _add_empty_dir(pod, ray, c.RAY_LOG_VOLUME, "/tmp/ray", memory=False)
        _add_empty_dir(pod, autoscaler, c.RAY_LOG_VOLUME, "/tmp/ray", memory=False)

    user_cmd = "".join(f" {part} " for part in (ray.get("command") or []) + (ray.get("args") or []))
    raystart.infer_resources(params, ray.get("resources") or {})
    start = raystart.ray_start_command(node_type, params)
    overwrite = (template["metadata"].get("annotations") or {}).get(
        c.RAY_OVERWRITE_CONTAINER_CMD_ANNOTATION, ""
    ).lower() == "true"
    if not overwrite and "ray start" not in user_cmd:
        generated = f"ulimit -n ${{{c.RAY_START_ULIMIT_OPEN_FILES}:-65536}}; {start}"
        ray["command"] = bash_command(config)
        ray["args"] = [f"{user_cmd} && {generated}" if user_cmd else generated]

    for init in pod["spec"].get("initContainers") or []:
        _add_env(init, c.FQ_RAY_IP, fqdn)
        _add_env(init, c.RAY_IP, fqdn.split(".")[0])
    # KubeRay's order (common.setContainerEnvVars): the operator's defaults first, then its own.
    for default in config.default_container_envs:
        if not _env_exists(ray, default["name"]):
            ray.setdefault("env", []).append(copy.deepcopy(default))
    if node_type == c.WORKER_NODE:
        _add_env(ray, c.FQ_RAY_IP, fqdn)
        _add_env(ray, c.RAY_IP, fqdn.split(".")[0])
    _add_env(ray, c.RAY_CLUSTER_NAME, field_path=f"metadata.labels['{c.RAY_CLUSTER_LABEL}']")
    _add_env(ray, c.RAY_CLUSTER_NAMESPACE, field_path="metadata.namespace")
    _add_env(ray, c.RAY_CLOUD_INSTANCE_ID, field_path="metadata.name")
    _add_env(ray, c.RAY_NODE_TYPE_NAME, field_path=f"metadata.labels['{c.RAY_NODE_GROUP_LABEL}']")
    _add_env(ray, c.KUBERAY_GEN_RAY_START_CMD, start)
    _add_env(ray, c.RAY_PORT, port, only_if_absent=True)
    if creator.is_rayservice:
        _add_env(ray, "RAY_timeout_ms_task_wait_for_death_info", "0", only_if_absent=True)
        _add_env(ray, "RAY_gcs_server_request_timeout_seconds", "5", only_if_absent=True)
        _add_env(ray, "RAY_SERVE_KV_TIMEOUT_S", "5", only_if_absent=True)
    address_host = "127.0.0.1" if node_type == c.HEAD_NODE else fqdn
    _add_env(ray, c.RAY_ADDRESS, f"{address_host}:{port}", only_if_absent=True)
    _add_env(ray, c.RAY_USAGE_STATS_KUBERAY_IN_USE, "1", only_if_absent=True)
    if node_type == c.HEAD_NODE:
        _add_env(
            ray,
            c.RAY_USAGE_STATS_EXTRA_TAGS,
            f"kuberay_version={c.KUBERAY_VERSION};kuberay_crd={creator.kind}",
        )
    _add_env(ray, c.RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE, "1", only_if_absent=True)
    if config.enable_probes_injection:
        _probes(ray, node_type, creator, params, cluster.spec.ray_version)
    # The operator configuration's defaults never replace a key the Pod already has.
    for key, value in config.default_pod_labels:
        labels.setdefault(key, value)
    for key, value in config.default_pod_annotations:
        pod["metadata"].setdefault("annotations", {}).setdefault(key, value)
    if not pod["metadata"].get("annotations"):
        pod["metadata"].pop("annotations", None)
    return pod


def _template(raw: dict[str, Any], cluster: RayCluster) -> dict[str, Any]:
    template = copy.deepcopy(raw)  # never edit the user's object
    template.setdefault("metadata", {})
    template.setdefault("spec", {})
    template["metadata"]["namespace"] = cluster.metadata.namespace
    if (cluster.metadata.annotations or {}).get(
        c.RAY_OVERWRITE_CONTAINER_CMD_ANNOTATION, ""
    ).lower() == "true":
        template["metadata"].setdefault("annotations", {})[c.RAY_OVERWRITE_CONTAINER_CMD_ANNOTATION] = "true"
    return template


def build_head_pod(
    cluster: RayCluster, config: OperatorConfig, creator: Creator = RAYCLUSTER_CREATOR
) -> dict[str, Any]:
    """The head Pod to create (≙ DefaultHeadPodTemplate + BuildPod)."""
    name = cluster.metadata.name or ""
    head = cluster.spec.head_group_spec
    template = _template(head.template, cluster)
    meta = template["metadata"]
    meta.pop("name", None)
    if config.enable_deterministic_head_pod_name:
        meta["name"] = naming.head_pod_name(name)
    else:
        meta["generateName"] = naming.head_pod_prefix(name)
    params = dict(head.ray_start_params or {})
    raystart.apply_group_resources(params, head.resources)
    raystart.apply_group_labels(params, head.labels)
    meta["labels"] = pod_labels(
        c.HEAD_NODE, name, c.HEAD_GROUP, {**(meta.get("labels") or {}), **(head.labels or {})}
    )
    raystart.set_missing_params(params, c.HEAD_NODE, head_address="")
    containers = template["spec"]["containers"]
    if is_autoscaling(cluster):
        params["no-monitor"] = "true"
        template["spec"]["serviceAccountName"] = naming.check_name(
            template["spec"].get("serviceAccountName") or name
        )
        autoscaler = autoscaler_container(cluster, containers[c.RAY_CONTAINER_INDEX].get("image", ""), config)
        _configure_token_auth(template, cluster, [autoscaler])
        containers.append(autoscaler)
        version = cluster.spec.autoscaler_options.version if cluster.spec.autoscaler_options else None
        if is_autoscaling_v2(cluster):
            _add_env(containers[c.RAY_CONTAINER_INDEX], c.RAY_ENABLE_AUTOSCALER_V2, "true")
            template["spec"]["restartPolicy"] = "Never"
        elif version == "v1":
            _add_env(containers[c.RAY_CONTAINER_INDEX], c.RAY_ENABLE_AUTOSCALER_V2, "false")
    _configure_gcs_ft(template, cluster, c.HEAD_NODE, params)
    _add_metrics_port(containers[c.RAY_CONTAINER_INDEX])
    _configure_token_auth(template, cluster, [containers[c.RAY_CONTAINER_INDEX]])
    containers.extend(copy.deepcopy(list(config.head_sidecar_containers)))  # after the autoscaler
    return _finish_pod(
        template,
        cluster=cluster,
        node_type=c.HEAD_NODE,
        params=params,
        creator=creator,
        config=config,
        fqdn=head_fqdn(cluster, config),
        port=head_port(head),
    )


def wait_gcs_ready_container(
    ray: dict[str, Any], fqdn: str, port: str, config: OperatorConfig
) -> dict[str, Any]:
    """The init container that holds a worker back until the head's GCS answers."""
    script = f"""
					SECONDS=0
					while true; do
						if (( SECONDS <= 120 )); then
							if ray health-check --address {fqdn}:{port} > /dev/null 2>&1; then
								echo "GCS is ready."
								break
							fi
							echo "$SECONDS seconds elapsed: Waiting for GCS to be ready."
						else
							if ray health-check --address {fqdn}:{port}; then
								echo "GCS is ready. Any error messages above can be safely ignored."
								break
							fi
							echo "$SECONDS seconds elapsed: Still waiting for GCS to be ready. For troubleshooting, refer to the FAQ at https://docs.ray.io/en/master/cluster/kubernetes/troubleshooting.html."
						fi
						sleep 5
					done
				"""
    init: dict[str, Any] = {
        "name": c.WAIT_GCS_READY_CONTAINER_NAME,
        "image": ray.get("image", ""),
        "command": bash_command(config),
        "args": [script],
        "env": copy.deepcopy(ray.get("env") or []),
        "volumeMounts": copy.deepcopy(ray.get("volumeMounts") or []),
        "resources": {
            "limits": {"cpu": "200m", "memory": "256Mi"},
            "requests": {"cpu": "200m", "memory": "256Mi"},
        },
    }
    if ray.get("imagePullPolicy"):
        init["imagePullPolicy"] = ray["imagePullPolicy"]
    if ray.get("securityContext"):
        init["securityContext"] = copy.deepcopy(ray["securityContext"])
    for key in ("env", "volumeMounts"):
        if not init[key]:
            del init[key]
    return init


def build_worker_pod(
    cluster: RayCluster,
    group: WorkerGroupSpec,
    config: OperatorConfig,
    creator: Creator = RAYCLUSTER_CREATOR,
    *,
    replica_index: int = 0,
    host_index: int = 0,
    replica_name: str | None = None,
) -> dict[str, Any]:
    """A worker Pod of `group` to create (≙ DefaultWorkerPodTemplate + BuildPod)."""
    name = cluster.metadata.name or ""
    template = _template(group.template, cluster)
    meta = template["metadata"]
    meta.pop("name", None)
    meta["generateName"] = naming.worker_pod_prefix(name, group.group_name)
    fqdn, port = head_fqdn(cluster, config), head_port(cluster.spec.head_group_spec)
    containers = template["spec"]["containers"]
    if config.enable_init_container_injection:
        template["spec"].setdefault("initContainers", []).append(
            wait_gcs_ready_container(containers[c.RAY_CONTAINER_INDEX], fqdn, port, config)
        )
    params = dict(group.ray_start_params or {})
    raystart.apply_group_resources(params, group.resources)
    raystart.apply_group_labels(params, group.labels)
    labels = pod_labels(
        c.WORKER_NODE, name, group.group_name, {**(meta.get("labels") or {}), **(group.labels or {})}
    )
    labels[c.RAY_WORKER_REPLICA_INDEX_LABEL] = str(replica_index)
    if group.num_of_hosts > 1:
        labels[c.RAY_WORKER_REPLICA_NAME_LABEL] = replica_name or ""
        labels[c.RAY_HOST_INDEX_LABEL] = str(host_index)
    meta["labels"] = labels
    raystart.set_missing_params(params, c.WORKER_NODE, head_address=f"{fqdn}:{port}")
    _configure_gcs_ft(template, cluster, c.WORKER_NODE, params)
    _add_metrics_port(containers[c.RAY_CONTAINER_INDEX])
    if is_autoscaling(cluster) and is_autoscaling_v2(cluster):
        template["spec"]["restartPolicy"] = "Never"
    _configure_token_auth(
        template,
        cluster,
        [containers[c.RAY_CONTAINER_INDEX]]
        + [
            i
            for i in template["spec"].get("initContainers") or []
            if i.get("name") == c.WAIT_GCS_READY_CONTAINER_NAME
        ],
    )
    containers.extend(copy.deepcopy(list(config.worker_sidecar_containers)))
    return _finish_pod(
        template,
        cluster=cluster,
        node_type=c.WORKER_NODE,
        params=params,
        creator=creator,
        config=config,
        fqdn=fqdn,
        port=port,
    )
