"""Container semantics the node agent reproduces from kubelet, without a cluster."""

from __future__ import annotations

from typing import Any

import pytest

from raykopf_local.agent.containers import (
    ConfigError,
    Probe,
    Sources,
    command_line,
    container_env,
    expand,
    quantity,
    resolve_port,
    service_env,
)

POD: dict[str, Any] = {
    "metadata": {"name": "head-x", "namespace": "ray", "uid": "u-1", "labels": {"ray.io/cluster": "demo"}},
    "spec": {"nodeName": "n1", "serviceAccountName": "demo"},
    "status": {"podIP": "198.18.0.9"},
}


def test_expand_replaces_known_references_and_keeps_unknown_ones() -> None:
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)-$(C)-$$(A)", env) == "1-two-$(C)-$(A)"


def test_env_follows_kubelets_order_and_sources() -> None:
    container = {
        "name": "ray",
        "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}, {"secretRef": {"name": "s"}}],
        "env": [
            {
                "name": "CLUSTER",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['ray.io/cluster']"}},
            },
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "ADDR", "value": "$(IP):6379"},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "s", "key": "password"}}},
            {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "level"}}},
            {"name": "CPUS", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            {
                "name": "MEM_MI",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
            },
        ],
        "resources": {"limits": {"cpu": "1500m", "memory": "2Gi"}},
    }
    sources = Sources(config_maps={"cm": {"level": "debug"}}, secrets={"s": {"password": "hunter2"}})
    env = container_env(POD, container, sources, base={"PATH": "/bin"})
    assert env["CM_level"] == "debug"
    assert env["password"] == "hunter2"
    assert env["CLUSTER"] == "demo"
    assert env["POD"] == "head-x"
    assert env["ADDR"] == "198.18.0.9:6379"
    assert env["PASSWORD"] == "hunter2"
    assert env["LEVEL"] == "debug"
    assert env["CPUS"] == "2"  # rounded up, as kubelet does
    assert env["MEM_MI"] == "2048"
    assert env["PATH"] == "/bin"


def test_missing_secret_is_a_config_error_unless_optional() -> None:
    container = {
        "name": "c",
        "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k"}}}],
    }
    with pytest.raises(ConfigError, match='secret "nope" not found'):
        container_env(POD, container, Sources(), base={})
    container["env"][0]["valueFrom"]["secretKeyRef"]["optional"] = True
    assert "X" not in container_env(POD, container, Sources(), base={})


def test_command_line_expands_and_requires_a_command() -> None:
    assert command_line({"command": ["/bin/bash", "-c"], "args": ["echo $(A)"]}, {"A": "hi"}) == [
        "/bin/bash",
        "-c",
        "echo hi",
    ]
    with pytest.raises(ConfigError, match="set `command`"):
        command_line({"args": ["python"]}, {})


def test_service_links_use_docker_style_names() -> None:
    services = [
        {
            "metadata": {"name": "head-svc"},
            "spec": {"clusterIP": "198.19.0.5", "ports": [{"name": "gcs", "port": 6379}]},
        },
        {"metadata": {"name": "headless"}, "spec": {"clusterIP": "None", "ports": [{"port": 1}]}},
    ]
    assert service_env(services) == {
        "HEAD_SVC_SERVICE_HOST": "198.19.0.5",
        "HEAD_SVC_SERVICE_PORT": "6379",
        "HEAD_SVC_SERVICE_PORT_GCS": "6379",
    }


def test_probe_defaults_and_named_ports() -> None:
    probe = Probe.parse({"httpGet": {"path": "/", "port": "dashboard"}})
    assert probe is not None
    assert (probe.kind, probe.period, probe.timeout, probe.failure_threshold) == ("httpGet", 10.0, 1.0, 3)
    container = {"name": "c", "ports": [{"name": "dashboard", "containerPort": 8265}]}
    assert resolve_port("dashboard", container) == 8265
    assert resolve_port(52365, container) == 52365
    with pytest.raises(ConfigError):
        resolve_port("metrics", container)


@pytest.mark.parametrize(
    ("text", "value"), [("500m", 0.5), ("2", 2.0), ("1Gi", 2**30), ("1k", 1000.0), (3, 3.0)]
)
def test_quantities(text: Any, value: float) -> None:
    assert quantity(text) == value


def test_the_operator_image_runs_from_the_projects_environment() -> None:
    from raykopf_local.agent.pods import image_repository, is_operator_image

    assert is_operator_image("raykopf/operator:0.1.0")
    assert is_operator_image("registry:5000/raykopf/operator@sha256:abc")
    assert not is_operator_image("rayproject/ray:2.60.0")
    assert image_repository("raykopf/operator:0.1.0") == "raykopf/operator"
    assert image_repository("registry:5000/raykopf/operator@sha256:abc") == "registry:5000/raykopf/operator"
    assert image_repository("rayproject/ray:2.60.0") == "rayproject/ray"
