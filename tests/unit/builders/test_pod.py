"""Head and worker Pods: KubeRay's names, labels, command, env, volumes, probes and autoscaler sidecar."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from raykopf.api import RayCluster
from raykopf.builders.pod import Creator, bash_command, build_head_pod, build_worker_pod
from raykopf.config import OperatorConfig
from raykopf.validation.core_types import check_core_type

CONFIG = OperatorConfig()


def cluster(**spec: Any) -> RayCluster:
    manifest: dict[str, Any] = {
        "metadata": {"name": "demo", "namespace": "ns", "uid": "uid-1"},
        "spec": {
            "rayVersion": "2.60.0",
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {
                    "metadata": {
                        "namespace": "elsewhere",
                        "labels": {"team": "a", "ray.io/cluster": "hijack"},
                    },
                    "spec": {
                        "containers": [
                            {
                                "name": "ray-head",
                                "image": "rayproject/ray:2.60.0",
                                "resources": {"limits": {"cpu": "2", "memory": "4Gi"}},
                            }
                        ]
                    },
                },
            },
            "workerGroupSpecs": [
                {
                    "groupName": "small",
                    "replicas": 1,
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "ray-worker",
                                    "image": "rayproject/ray:2.60.0",
                                    "env": [{"name": "USER_VAR", "value": "1"}],
                                }
                            ]
                        }
                    },
                }
            ],
        },
    }
    for key, value in spec.items():
        manifest["spec"][key] = value
    return RayCluster.model_validate(manifest)


def env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env") or []}


def test_head_pod_identity_labels_and_namespace() -> None:
    pod = build_head_pod(cluster(), CONFIG)
    meta = pod["metadata"]
    assert meta["generateName"] == "demo-head-"
    assert meta["namespace"] == "ns"
    assert meta["labels"] == {
        "ray.io/is-ray-node": "yes",
        "ray.io/cluster": "demo",
        "ray.io/node-type": "head",
        "ray.io/group": "headgroup",
        "ray.io/identifier": "demo-head",
        "app.kubernetes.io/name": "kuberay",
        "app.kubernetes.io/created-by": "kuberay-operator",
        "team": "a",
    }
    assert meta["annotations"] == {"ray.io/ft-enabled": "false"}
    assert check_core_type("io.k8s.api.core.v1.Pod", pod, "pod") == []


def test_head_command_env_volumes_and_probes() -> None:
    pod = build_head_pod(cluster(), CONFIG)
    ray = pod["spec"]["containers"][0]
    # KubeRay pads every flag with a space on each side (seen byte for byte from its operator).
    start = (
        "ray start --head  --block  --dashboard-agent-listen-port=52365  --dashboard-host=0.0.0.0  "
        "--memory=4294967296  --metrics-export-port=8080  --num-cpus=2 "
    )
    assert ray["command"] == ["/bin/bash", "-c", "--"]
    assert [item["name"] for item in ray["env"]] == [
        "RAY_CLUSTER_NAME",
        "RAY_CLUSTER_NAMESPACE",
        "RAY_CLOUD_INSTANCE_ID",
        "RAY_NODE_TYPE_NAME",
        "KUBERAY_GEN_RAY_START_CMD",
        "RAY_PORT",
        "RAY_ADDRESS",
        "RAY_USAGE_STATS_KUBERAY_IN_USE",
        "RAY_USAGE_STATS_EXTRA_TAGS",
        "RAY_DASHBOARD_ENABLE_K8S_DISK_USAGE",
    ]
    assert ray["args"] == [f"ulimit -n ${{RAY_START_ULIMIT_OPEN_FILES:-65536}}; {start}"]
    variables = env(ray)
    assert variables["KUBERAY_GEN_RAY_START_CMD"] == start
    assert variables["RAY_ADDRESS"] == "127.0.0.1:6379"
    assert variables["RAY_PORT"] == "6379"
    assert variables["RAY_CLUSTER_NAME"] == {"fieldRef": {"fieldPath": "metadata.labels['ray.io/cluster']"}}
    assert variables["RAY_USAGE_STATS_EXTRA_TAGS"] == "kuberay_version=v1.7.0;kuberay_crd=RayCluster"
    assert "FQ_RAY_IP" not in variables
    assert {"name": "metrics", "containerPort": 8080} in ray["ports"]
    assert pod["spec"]["volumes"] == [
        {"name": "shared-mem", "emptyDir": {"medium": "Memory", "sizeLimit": "4Gi"}}
    ]
    assert ray["volumeMounts"] == [{"name": "shared-mem", "mountPath": "/dev/shm"}]
    assert ray["readinessProbe"] == {
        "initialDelaySeconds": 10,
        "timeoutSeconds": 5,
        "periodSeconds": 5,
        "successThreshold": 1,
        "failureThreshold": 10,
        "httpGet": {"path": "/api/healthz", "port": 52365},
    }
    assert ray["livenessProbe"]["failureThreshold"] == 120


def test_old_ray_versions_get_exec_probes_checking_gcs_on_the_head() -> None:
    pod = build_head_pod(cluster(rayVersion="2.46.0"), CONFIG)
    command = pod["spec"]["containers"][0]["readinessProbe"]["exec"]["command"]
    assert command == [
        "bash",
        "-c",
        "wget --tries 1 -T 2 -q -O- http://localhost:52365/api/local_raylet_healthz | grep success && "
        "wget --tries 1 -T 10 -q -O- http://localhost:8265/api/gcs_healthz | grep success",
    ]


def test_user_probes_are_kept_and_injection_can_be_disabled() -> None:
    custom = cluster()
    custom.spec.head_group_spec.template["spec"]["containers"][0]["readinessProbe"] = {
        "tcpSocket": {"port": 6379}
    }
    ray = build_head_pod(custom, CONFIG)["spec"]["containers"][0]
    assert ray["readinessProbe"] == {"tcpSocket": {"port": 6379}}
    assert "livenessProbe" in ray
    bare = build_head_pod(cluster(), OperatorConfig(enable_probes_injection=False))["spec"]["containers"][0]
    assert "readinessProbe" not in bare
    assert "livenessProbe" not in bare


@pytest.mark.parametrize(
    ("command", "args", "annotations", "expected"),
    [
        pytest.param(["echo"], ["hi"], {}, " echo  hi  && ulimit", id="a user command runs before ray start"),
        pytest.param(
            ["/bin/bash", "-c"], ["ray start --head --block"], {}, None, id="a command with ray start is kept"
        ),
        pytest.param(
            ["python"],
            ["x.py"],
            {"ray.io/overwrite-container-cmd": "true"},
            None,
            id="the overwrite annotation keeps the command",
        ),
    ],
)
def test_user_commands(
    command: list[str], args: list[str], annotations: dict[str, str], expected: str | None
) -> None:
    custom = cluster()
    custom.metadata.annotations = annotations
    ray_template = custom.spec.head_group_spec.template["spec"]["containers"][0]
    ray_template.update(command=command, args=args)
    ray = build_head_pod(custom, CONFIG)["spec"]["containers"][0]
    if expected is None:
        assert (ray["command"], ray["args"]) == (command, args)
    else:
        assert ray["args"][0].startswith(expected)


def test_the_users_template_is_never_modified() -> None:
    original = cluster()
    before = copy.deepcopy(original.to_dict())
    build_head_pod(original, CONFIG)
    build_worker_pod(original, (original.spec.worker_group_specs or [])[0], CONFIG)
    assert original.to_dict() == before


def test_autoscaler_sidecar_service_account_and_v2_settings() -> None:
    autoscaled = cluster(
        enableInTreeAutoscaling=True,
        autoscalerOptions={
            "version": "v2",
            "image": "custom:1",
            "env": [{"name": "EXTRA", "value": "1"}],
            "resources": {"limits": {"cpu": "1"}},
        },
    )
    pod = build_head_pod(autoscaled, CONFIG)
    ray, autoscaler = pod["spec"]["containers"]
    assert pod["spec"]["serviceAccountName"] == "demo"
    assert pod["spec"]["restartPolicy"] == "Never"
    assert "--no-monitor" in ray["args"][0]
    assert env(ray)["RAY_enable_autoscaler_v2"] == "true"
    assert autoscaler["name"] == "autoscaler"
    assert autoscaler["image"] == "custom:1"
    assert autoscaler["args"] == [
        "ray kuberay-autoscaler --cluster-name $(RAY_CLUSTER_NAME) --cluster-namespace $(RAY_CLUSTER_NAMESPACE)"
    ]
    assert autoscaler["resources"] == {"limits": {"cpu": "1"}}
    assert list(env(autoscaler)) == [
        "RAY_CLUSTER_NAME",
        "RAY_CLUSTER_NAMESPACE",
        "RAY_HEAD_POD_NAME",
        "KUBERAY_CRD_VER",
        "KUBERAY_GEN_AUTOSCALER_START_CMD",
        "EXTRA",
    ]
    assert {"name": "ray-logs", "mountPath": "/tmp/ray"} in ray["volumeMounts"]
    assert {"name": "ray-logs", "mountPath": "/tmp/ray"} in autoscaler["volumeMounts"]
    worker = build_worker_pod(autoscaled, (autoscaled.spec.worker_group_specs or [])[0], CONFIG)
    assert worker["spec"]["restartPolicy"] == "Never"
    v1 = build_head_pod(cluster(enableInTreeAutoscaling=True, autoscalerOptions={"version": "v1"}), CONFIG)
    assert env(v1["spec"]["containers"][0])["RAY_enable_autoscaler_v2"] == "false"
    assert "restartPolicy" not in v1["spec"]


def test_worker_pod_joins_the_head_through_its_service() -> None:
    demo = cluster()
    pod = build_worker_pod(demo, (demo.spec.worker_group_specs or [])[0], CONFIG, replica_index=3)
    assert pod["metadata"]["generateName"] == "demo-small-worker-"
    assert pod["metadata"]["labels"]["ray.io/group"] == "small"
    assert pod["metadata"]["labels"]["ray.io/worker-group-replica-index"] == "3"
    init = pod["spec"]["initContainers"][0]
    assert init["name"] == "wait-gcs-ready"
    assert "ray health-check --address demo-head-svc.ns.svc.cluster.local:6379" in init["args"][0]
    assert init["resources"]["limits"] == {"cpu": "200m", "memory": "256Mi"}
    assert env(init) == {
        "USER_VAR": "1",
        "FQ_RAY_IP": "demo-head-svc.ns.svc.cluster.local",
        "RAY_IP": "demo-head-svc",
    }
    ray = pod["spec"]["containers"][0]
    assert "--address=demo-head-svc.ns.svc.cluster.local:6379" in ray["args"][0]
    assert env(ray)["RAY_ADDRESS"] == "demo-head-svc.ns.svc.cluster.local:6379"
    assert check_core_type("io.k8s.api.core.v1.Pod", pod, "pod") == []
    plain = build_worker_pod(
        demo, (demo.spec.worker_group_specs or [])[0], OperatorConfig(enable_init_container_injection=False)
    )
    assert "initContainers" not in plain["spec"]


def test_multi_host_replicas_carry_their_replica_name_and_host_index() -> None:
    demo = cluster()
    group = (demo.spec.worker_group_specs or [])[0]
    group.num_of_hosts = 4
    labels = build_worker_pod(demo, group, CONFIG, replica_index=1, host_index=2, replica_name="small-abc")[
        "metadata"
    ]["labels"]
    assert labels["ray.io/worker-group-replica-name"] == "small-abc"
    assert labels["ray.io/replica-host-index"] == "2"


def test_gcs_fault_tolerance_with_options() -> None:
    ft = cluster(
        gcsFaultToleranceOptions={
            "redisAddress": "redis:6379",
            "redisPassword": {"valueFrom": {"secretKeyRef": {"name": "r", "key": "p"}}},
        }
    )
    head = build_head_pod(ft, CONFIG)
    assert head["metadata"]["annotations"] == {
        "ray.io/ft-enabled": "true",
        "ray.io/external-storage-namespace": "uid-1",
    }
    variables = env(head["spec"]["containers"][0])
    assert variables["RAY_REDIS_ADDRESS"] == "redis:6379"
    assert variables["RAY_external_storage_namespace"] == "uid-1"
    assert variables["REDIS_PASSWORD"] == {"secretKeyRef": {"name": "r", "key": "p"}}
    assert "--redis-password=$REDIS_PASSWORD" in head["spec"]["containers"][0]["args"][0]
    worker = build_worker_pod(ft, (ft.spec.worker_group_specs or [])[0], CONFIG)
    assert env(worker["spec"]["containers"][0])["RAY_gcs_rpc_server_reconnect_timeout_s"] == "600"


def test_rayservice_clusters_label_serving_pods_and_probe_the_proxy() -> None:
    demo = cluster()
    head = build_head_pod(demo, CONFIG, Creator("RayService"))
    worker = build_worker_pod(demo, (demo.spec.worker_group_specs or [])[0], CONFIG, Creator("RayService"))
    assert head["metadata"]["labels"]["ray.io/serve"] == "false"
    assert worker["metadata"]["labels"]["ray.io/serve"] == "true"
    probe = worker["spec"]["containers"][0]["readinessProbe"]
    assert probe["failureThreshold"] == 1
    assert probe["exec"]["command"][2].endswith("http://localhost:8000/-/healthz | grep success")
    assert env(head["spec"]["containers"][0])["RAY_SERVE_KV_TIMEOUT_S"] == "5"


def test_plasma_directory_skips_the_shared_memory_volume() -> None:
    demo = cluster()
    demo.spec.head_group_spec.ray_start_params = {"plasma-directory": "/data"}
    assert "volumes" not in build_head_pod(demo, CONFIG)["spec"]


def test_long_names_are_cut_like_kuberay() -> None:
    long_name = cluster()
    # KubeRay's utils.PodName keeps the first 50 characters of the cluster name, then `-head-`.
    long_name.metadata.name = "b" + "a" * 52
    assert build_head_pod(long_name, CONFIG)["metadata"]["generateName"] == "b" + "a" * 49 + "-head-"
    # A 45-character name is kept whole (seen from KubeRay's operator).
    long_name.metadata.name = "syn-long-names-" + "x" * 30
    assert build_head_pod(long_name, CONFIG)["metadata"]["generateName"] == f"{long_name.metadata.name}-head-"


def test_kubernetes_token_auth_uses_a_projected_token_instead_of_the_secret() -> None:
    # KubeRay's Pods for `authOptions: {mode: token, enableK8sTokenAuth: true}`, as its operator
    # builds them (seen in the conformance suite): no RAY_AUTH_TOKEN, a projected token at
    # /var/run/secrets/ray.io/serviceaccount, mounted read-only, its volume before /dev/shm's.
    demo = cluster(authOptions={"mode": "token", "enableK8sTokenAuth": True})
    for pod in (
        build_head_pod(demo, CONFIG),
        build_worker_pod(demo, demo.spec.worker_group_specs[0], CONFIG),
    ):
        containers = [pod["spec"]["containers"][0], *pod["spec"].get("initContainers", [])]
        for container in containers:
            variables = env(container)
            assert variables["RAY_AUTH_MODE"] == "token"
            assert variables["RAY_ENABLE_K8S_TOKEN_AUTH"] == "true"
            assert "RAY_AUTH_TOKEN" not in variables
            assert container["volumeMounts"][0] == {
                "name": "ray-token",
                "mountPath": "/var/run/secrets/ray.io/serviceaccount",
                "readOnly": True,
            }
        assert pod["spec"]["volumes"][0] == {
            "name": "ray-token",
            "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]},
        }


def test_token_auth_reads_the_clusters_secret_unless_one_is_named() -> None:
    head = build_head_pod(cluster(authOptions={"mode": "token"}), CONFIG)
    assert env(head["spec"]["containers"][0])["RAY_AUTH_TOKEN"] == {
        "secretKeyRef": {"name": "demo", "key": "auth_token"}
    }
    named = build_head_pod(cluster(authOptions={"mode": "token", "secretName": "mine"}), CONFIG)
    assert env(named["spec"]["containers"][0])["RAY_AUTH_TOKEN"]["secretKeyRef"]["name"] == "mine"


# KubeRay's TestGetContainerCommand (utils/util_test.go): the options, then `l` under ENABLE_LOGIN_SHELL.
@pytest.mark.parametrize(
    ("login_shell", "options", "expected"),
    [
        (False, "", ["/bin/bash", "-c", "--"]),
        (True, "", ["/bin/bash", "-cl", "--"]),
        (False, "e", ["/bin/bash", "-ce", "--"]),
        (True, "e", ["/bin/bash", "-cel", "--"]),
    ],
)
def test_bash_command_as_kuberay_writes_it(login_shell: bool, options: str, expected: list[str]) -> None:
    assert bash_command(OperatorConfig(enable_login_shell=login_shell), options) == expected


# KubeRay's TestBuildPod_WithLoginBash (common/pod_test.go): head, autoscaler, worker and its
# wait-gcs-ready init container all start the same shell.
@pytest.mark.parametrize(
    ("login_shell", "expected"), [(True, ["/bin/bash", "-cl", "--"]), (False, ["/bin/bash", "-c", "--"])]
)
def test_every_generated_container_uses_the_login_shell_when_asked(
    login_shell: bool, expected: list[str]
) -> None:
    config = OperatorConfig(enable_login_shell=login_shell)
    autoscaling = cluster(enableInTreeAutoscaling=True)
    head = build_head_pod(autoscaling, config)["spec"]["containers"]
    assert [container["command"] for container in head] == [expected, expected]
    worker = build_worker_pod(autoscaling, autoscaling.spec.worker_group_specs[0], config)["spec"]
    assert worker["containers"][0]["command"] == expected
    assert [init["command"] for init in worker["initContainers"]] == [expected]
