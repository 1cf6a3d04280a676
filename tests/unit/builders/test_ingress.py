"""The head Ingress: KubeRay's name, labels, copied annotations, ingress class and v1.7's ingressOptions."""

from __future__ import annotations

from typing import Any

from raykopf.api import RayCluster
from raykopf.builders.ingress import build_head_ingress
from raykopf.validation.core_types import check_core_type


def cluster(**head: Any) -> RayCluster:
    return RayCluster.model_validate(
        {
            "metadata": {
                "name": "demo",
                "namespace": "ns",
                "annotations": {
                    "kubernetes.io/ingress.class": "nginx",
                    "nginx.ingress.kubernetes.io/rewrite-target": "/$1",
                },
            },
            "spec": {
                "headGroupSpec": {
                    "enableIngress": True,
                    **head,
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "ray-head",
                                    "image": "ray",
                                    "ports": [{"name": "dashboard", "containerPort": 8266}],
                                }
                            ]
                        }
                    },
                }
            },
        }
    )


def test_default_ingress_is_kuberays() -> None:
    ingress = build_head_ingress(cluster())
    assert ingress["metadata"]["name"] == "demo-head-ingress"
    assert ingress["metadata"]["annotations"] == {"nginx.ingress.kubernetes.io/rewrite-target": "/$1"}
    assert ingress["metadata"]["labels"]["ray.io/identifier"] == "demo-head"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["rules"] == [
        {
            "http": {
                "paths": [
                    {
                        "path": "/demo/(.*)",
                        "pathType": "Exact",
                        "backend": {"service": {"name": "demo-head-svc", "port": {"number": 8266}}},
                    }
                ]
            }
        }
    ]
    assert check_core_type("io.k8s.api.networking.v1.Ingress", ingress, "ingress") == []


def test_ingress_options_set_host_path_and_tls() -> None:
    ingress = build_head_ingress(
        cluster(
            ingressOptions={
                "host": "ray.example.com",
                "tls": [{"hosts": ["ray.example.com"], "secretName": "t"}],
            }
        )
    )
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "ray.example.com"
    assert (rule["http"]["paths"][0]["path"], rule["http"]["paths"][0]["pathType"]) == ("/", "Prefix")
    assert ingress["spec"]["tls"] == [{"hosts": ["ray.example.com"], "secretName": "t"}]
