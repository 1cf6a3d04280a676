"""Head, serve and headless worker Services, and the autoscaler's RBAC."""

from __future__ import annotations

from typing import Any

import pytest

from raykopf.api import RayCluster
from raykopf.builders.rbac import build_role, build_role_binding, build_service_account
from raykopf.builders.service import (
    build_head_service,
    build_headless_worker_service,
    build_serve_service,
    service_ports,
)
from raykopf.config import OperatorConfig
from raykopf.validation.core_types import check_core_type


def cluster(ports: list[dict[str, Any]] | None = None, **head: Any) -> RayCluster:
    container: dict[str, Any] = {"name": "ray-head", "image": "ray"}
    if ports is not None:
        container["ports"] = ports
    return RayCluster.model_validate(
        {
            "metadata": {"name": "demo", "namespace": "ns"},
            "spec": {
                "headServiceAnnotations": {"team": "a"},
                "headGroupSpec": {"template": {"spec": {"containers": [container]}}, **head},
            },
        }
    )


SELECTOR = {
    "ray.io/cluster": "demo",
    "ray.io/node-type": "head",
    "ray.io/identifier": "demo-head",
    "app.kubernetes.io/name": "kuberay",
    "app.kubernetes.io/created-by": "kuberay-operator",
}


def test_head_service_is_headless_with_kuberays_default_ports() -> None:
    service = build_head_service(cluster(), OperatorConfig())
    assert service["metadata"] == {
        "name": "demo-head-svc",
        "namespace": "ns",
        "labels": SELECTOR,
        "annotations": {"team": "a"},
    }
    assert service["spec"]["selector"] == SELECTOR
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True
    assert [(p["name"], p["port"], p["appProtocol"]) for p in service["spec"]["ports"]] == [
        ("client", 10001, "tcp"),
        ("dashboard", 8265, "tcp"),
        ("gcs-server", 6379, "tcp"),
        ("metrics", 8080, "tcp"),
        ("serve", 8000, "tcp"),
    ]
    assert check_core_type("io.k8s.api.core.v1.Service", service, "svc") == []


def test_head_service_ports_come_from_the_container_and_metrics_is_always_there() -> None:
    service = build_head_service(
        cluster([{"containerPort": 6379, "name": "gcs"}, {"containerPort": 9999}]), OperatorConfig()
    )
    assert [(p["name"], p["port"]) for p in service["spec"]["ports"]] == [
        ("9999-port", 9999),
        ("gcs", 6379),
        ("metrics", 8080),
    ]


def test_cluster_ip_head_service_when_asked() -> None:
    assert (
        "clusterIP"
        not in build_head_service(cluster(), OperatorConfig(enable_ray_head_cluster_ip_service=True))["spec"]
    )
    node_port = build_head_service(cluster(serviceType="NodePort"), OperatorConfig())
    assert node_port["spec"]["type"] == "NodePort"
    assert "clusterIP" not in node_port["spec"]


def test_custom_head_service_keeps_the_users_fields_but_not_the_selector() -> None:
    custom = {
        "metadata": {
            "name": "mine",
            "labels": {"ray.io/cluster": "x", "owner": "me"},
            "annotations": {"team": "b"},
        },
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": "other"},
            "ports": [{"name": "extra", "port": 1}],
        },
    }
    service = build_head_service(cluster(headService=custom), OperatorConfig())
    assert service["metadata"]["name"] == "mine"
    assert service["metadata"]["namespace"] == "ns"
    assert service["metadata"]["labels"] == {**SELECTOR, "owner": "me"}
    assert service["metadata"]["annotations"] == {"team": "a"}
    assert service["spec"]["selector"] == SELECTOR
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["ports"][0] == {"name": "extra", "port": 1}
    assert len(service["spec"]["ports"]) == 6


def test_serve_service_needs_a_serve_port() -> None:
    service = build_serve_service(cluster())
    assert service is not None
    assert service["metadata"]["name"] == "demo-serve-svc"
    assert service["metadata"]["labels"] == {
        "ray.io/originated-from-cr-name": "demo",
        "ray.io/originated-from-crd": "RayCluster",
        "ray.io/serve": "demo-serve",
    }
    assert service["spec"] == {
        "selector": {"ray.io/cluster": "demo"},
        "ports": [{"name": "serve", "port": 8000}],
    }
    assert build_serve_service(cluster([{"containerPort": 6379, "name": "gcs"}])) is None
    for_service = build_serve_service(cluster(), owner="svc", owner_kind="RayService")
    assert for_service is not None
    assert for_service["spec"]["selector"] == {"ray.io/cluster": "demo", "ray.io/serve": "true"}
    assert for_service["metadata"]["name"] == "svc-serve-svc"
    ports = [{"containerPort": 8000, "name": "serve"}, {"containerPort": 9000, "name": "serve-grpc"}]
    ports.append({"containerPort": 8265, "name": "dashboard"})
    several = build_serve_service(cluster(ports), owner="svc", owner_kind="RayService")
    assert several is not None
    assert several["spec"]["ports"] == [{"name": "serve", "port": 8000}, {"name": "serve-grpc", "port": 9000}]


def test_headless_worker_service() -> None:
    assert build_headless_worker_service(cluster()) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "demo-headless",
            "namespace": "ns",
            "labels": {"ray.io/headless-worker-svc": "demo"},
        },
        "spec": {
            "clusterIP": "None",
            "selector": {"ray.io/cluster": "demo", "ray.io/node-type": "worker"},
            "type": "ClusterIP",
            "publishNotReadyAddresses": True,
        },
    }


def test_autoscaler_rbac_grants_exactly_what_the_autoscaler_uses() -> None:
    demo = cluster()
    assert build_service_account(demo)["metadata"]["name"] == "demo"
    role = build_role(demo)
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch", "patch"]},
        {"apiGroups": [""], "resources": ["pods/resize"], "verbs": ["patch"]},
        {"apiGroups": ["ray.io"], "resources": ["rayclusters"], "verbs": ["get", "patch"]},
    ]
    binding = build_role_binding(demo)
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "demo", "namespace": "ns"}]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "demo"}
    custom_sa = cluster()
    custom_sa.spec.head_group_spec.template["spec"]["serviceAccountName"] = "mine"
    assert build_role_binding(custom_sa)["subjects"][0]["name"] == "mine"


# KubeRay's TestGetServicePortsWithMetricsPort (common/service_test.go): the metrics port is the
# container's port named "metrics", or 8080.
@pytest.mark.parametrize(
    ("ports", "metrics"),
    [
        ([], 8080),
        ([{"name": "random", "containerPort": 1234}], 8080),
        ([{"name": "metrics", "containerPort": 8081}], 8081),
    ],
)
def test_service_ports_with_metrics_port(ports: list[dict[str, Any]], metrics: int) -> None:
    assert service_ports(cluster(ports))["metrics"] == metrics


# KubeRay's TestUserSpecifiedServeServiceAppProtocolPreserved and
# TestUserSpecifiedServeServiceFallbackPreservesAppProtocol (common/service_test.go).
def test_a_users_serve_port_keeps_its_app_protocol() -> None:
    ports = [{"containerPort": 8000, "name": "serve"}, {"containerPort": 9000, "name": "serve-grpc"}]
    template = {
        "metadata": {"name": "custom-serve-svc"},
        "spec": {
            "ports": [
                {"name": "serve", "port": 8000},
                {"name": "serve-grpc", "port": 9000, "appProtocol": "kubernetes.io/h2c"},
            ]
        },
    }
    service = build_serve_service(cluster(ports), owner="svc", owner_kind="RayService", template=template)
    assert service is not None
    by_name = {p["name"]: p for p in service["spec"]["ports"]}
    assert len(by_name) == 2
    assert "appProtocol" not in by_name["serve"]
    assert by_name["serve-grpc"]["appProtocol"] == "kubernetes.io/h2c"


def test_with_no_detected_serve_port_the_users_ports_stay_as_they_are() -> None:
    template = {
        "metadata": {"name": "custom-serve-svc"},
        "spec": {
            "ports": [
                {"name": "serve-grpc", "port": 9000, "appProtocol": "kubernetes.io/h2c"},
                {"name": "not-a-serve-port", "port": 1234},
            ]
        },
    }
    service = build_serve_service(
        cluster([{"containerPort": 6379, "name": "gcs-server"}]),
        owner="svc",
        owner_kind="RayService",
        template=template,
    )
    assert service is not None
    assert service["spec"]["ports"] == [
        {"name": "serve-grpc", "port": 9000, "appProtocol": "kubernetes.io/h2c"},
        {"name": "not-a-serve-port", "port": 1234},
    ]
