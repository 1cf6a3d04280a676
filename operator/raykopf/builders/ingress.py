"""The head Ingress for the dashboard (≙ common.BuildIngressForHeadService, with v1.7's ingressOptions)."""

from __future__ import annotations

import copy
from typing import Any

from raykopf import constants as c
from raykopf.api.raycluster import RayCluster
from raykopf.builders.service import head_service_name, service_ports
from raykopf.naming import check_name, identifier

INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"


def ingress_name(cluster: str) -> str:
    return check_name(f"{cluster}-head-ingress")


def build_head_ingress(cluster: RayCluster) -> dict[str, Any]:
    """Every RayCluster annotation is copied except the deprecated ingress-class one, which becomes
    `ingressClassName`. Without ingressOptions the path is KubeRay's `/<cluster>/(.*)` (Exact)."""
    name = cluster.metadata.name or ""
    annotations = dict(cluster.metadata.annotations or {})
    ingress_class = annotations.pop(INGRESS_CLASS_ANNOTATION, None)
    options = cluster.spec.head_group_spec.ingress_options
    path: dict[str, Any] = {
        "path": f"/{name}/(.*)",
        "pathType": "Exact",
        "backend": {
            "service": {
                "name": head_service_name(cluster),
                "port": {"number": service_ports(cluster).get("dashboard", c.DEFAULT_DASHBOARD_PORT)},
            }
        },
    }
    rule: dict[str, Any] = {"http": {"paths": [path]}}
    spec: dict[str, Any] = {"rules": [rule]}
    if options is not None:
        path["path"] = options.path or "/"
        path["pathType"] = options.path_type or "Prefix"
        if options.host:
            rule["host"] = options.host
        if options.tls:
            spec["tls"] = copy.deepcopy(options.tls)
    if ingress_class is not None:
        spec["ingressClassName"] = ingress_class
    labels = {
        c.RAY_CLUSTER_LABEL: name,
        c.RAY_ID_LABEL: identifier(name, c.HEAD_NODE),
        c.K8S_APP_NAME_LABEL: c.APPLICATION_NAME,
        c.K8S_CREATED_BY_LABEL: c.COMPONENT_NAME,
    }
    metadata = {
        "name": ingress_name(name),
        "namespace": cluster.metadata.namespace,
        "labels": labels,
        "annotations": annotations,
    }
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": metadata, "spec": spec}
