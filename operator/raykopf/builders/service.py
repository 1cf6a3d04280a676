"""Head, serve and headless worker Services (≙ common.BuildServiceForHeadPod, BuildServeService,
BuildHeadlessServiceForRayCluster)."""

from __future__ import annotations

import copy
from typing import Any

from raykopf import constants as c
from raykopf import naming
from raykopf.api.raycluster import RayCluster
from raykopf.builders.labels import head_selector, owned_by
from raykopf.config import OperatorConfig


def service_ports(cluster: RayCluster) -> dict[str, int]:
    """The Ray container's ports by name (an unnamed port is `<port>-port`), or KubeRay's defaults;
    `metrics` is always present."""
    containers = cluster.spec.head_group_spec.template.get("spec", {}).get("containers") or [{}]
    ports = {
        p.get("name") or f"{p['containerPort']}-port": int(p["containerPort"])
        for p in containers[0].get("ports") or []
    }
    if not ports:
        ports = dict(c.DEFAULT_HEAD_SERVICE_PORTS)
    ports.setdefault(c.METRICS_PORT_NAME, c.DEFAULT_METRICS_PORT)
    return ports


def _service_ports(ports: dict[str, int], *, app_protocol: bool) -> list[dict[str, Any]]:
    result = []
    for name in sorted(ports):
        port: dict[str, Any] = {"name": name, "port": ports[name]}
        if app_protocol:
            port["appProtocol"] = c.DEFAULT_SERVICE_APP_PROTOCOL
        result.append(port)
    return result


def head_service_name(cluster: RayCluster) -> str:
    custom = (cluster.spec.head_group_spec.head_service or {}).get("metadata", {}).get("name")
    return custom or naming.head_service(cluster.metadata.name or "")


def build_head_service(cluster: RayCluster, config: OperatorConfig) -> dict[str, Any]:
    """The head Service: headless by default (unless ENABLE_RAY_HEAD_CLUSTER_IP_SERVICE), or the user's
    `headService` with KubeRay's selector, labels and ports forced in."""
    name = cluster.metadata.name or ""
    namespace = cluster.metadata.namespace
    selector = head_selector(name)
    annotations = dict(cluster.spec.head_service_annotations or {})
    service_type = cluster.spec.head_group_spec.service_type
    ports = _service_ports(service_ports(cluster), app_protocol=True)
    custom = cluster.spec.head_group_spec.head_service
    if custom is not None:
        service = copy.deepcopy(custom)
        meta = service.setdefault("metadata", {})
        custom_spec = service.setdefault("spec", {})
        custom_spec["selector"] = selector
        meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
        custom_spec["ports"] = list(custom_spec.get("ports") or []) + ports
        meta["labels"] = {**(meta.get("labels") or {}), **selector}
        meta["name"] = meta.get("name") or naming.head_service(name)
        meta["namespace"] = namespace
        if not custom_spec.get("type") and service_type:
            custom_spec["type"] = service_type
        return {"apiVersion": "v1", "kind": "Service", **service}
    spec: dict[str, Any] = {"selector": selector, "ports": ports}
    if service_type:
        spec["type"] = service_type
    if not config.enable_ray_head_cluster_ip_service and service_type in (None, "", "ClusterIP"):
        # At most one head Pod: a headless Service resolves straight to it.
        spec["clusterIP"] = "None"
        spec["publishNotReadyAddresses"] = True
    metadata: dict[str, Any] = {
        "name": naming.head_service(name),
        "namespace": namespace,
        "labels": dict(selector),
    }
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}


def dashboard_port(cluster: RayCluster) -> int:
    return service_ports(cluster).get("dashboard", c.DEFAULT_DASHBOARD_PORT)


def dashboard_url(cluster: RayCluster, config: OperatorConfig) -> str:
    """`<head service>.<ns>.svc.<domain>:<port>`, without a scheme (KubeRay's status.dashboardURL)."""
    service = naming.fqdn(head_service_name(cluster), cluster.metadata.namespace or "", config.cluster_domain)
    return f"{service}:{dashboard_port(cluster)}"


def build_owner_head_service(
    cluster: RayCluster, config: OperatorConfig, *, kind: str, name: str, uid: str | None
) -> dict[str, Any]:
    """`<rayjob or rayservice>-head-svc`: the cluster's head Service under its owner's name; only the
    selector (and the `ray.io/cluster` label) follows when the owner moves to another cluster."""
    service = build_head_service(cluster, config)
    service["metadata"]["name"] = naming.head_service(name)
    # KubeRay's labels (BuildHeadServiceForRayJob/ForRayService replace the cluster's), plus
    # ray.io/cluster, which puts the Service in the operator's Service cache.
    service["metadata"]["labels"] = {
        c.RAY_ORIGINATED_FROM_CR_NAME_LABEL: name,
        c.RAY_ORIGINATED_FROM_CRD_LABEL: kind,
        c.RAY_NODE_TYPE_LABEL: c.HEAD_NODE,
        c.RAY_ID_LABEL: naming.identifier(name, c.HEAD_NODE),
        c.RAY_CLUSTER_LABEL: cluster.metadata.name or "",
    }
    return owned_by(service, name=name, uid=uid, kind=kind)


def build_serve_service(
    cluster: RayCluster,
    *,
    owner: str | None = None,
    owner_kind: str = "RayCluster",
    template: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The serve Service; None when the head container declares no `serve` port and no template is given."""
    name = owner or cluster.metadata.name or ""
    rayservice = owner_kind == "RayService"
    labels = {
        c.RAY_ORIGINATED_FROM_CR_NAME_LABEL: name,
        c.RAY_ORIGINATED_FROM_CRD_LABEL: owner_kind,
        c.RAY_SERVE_LABEL: f"{name}-serve",
    }
    selector = {c.RAY_CLUSTER_LABEL: cluster.metadata.name or ""}
    if rayservice:
        selector[c.RAY_SERVE_LABEL] = "true"
    ports = [
        {"name": port_name, "port": number}
        for port_name, number in service_ports(cluster).items()
        if port_name == c.SERVING_PORT_NAME or port_name.startswith(f"{c.SERVING_PORT_NAME}-")
    ]
    service_type = cluster.spec.head_group_spec.service_type
    if rayservice and template is not None:
        service = copy.deepcopy(template)
        meta, spec = service.setdefault("metadata", {}), service.setdefault("spec", {})
        spec["selector"] = selector
        meta.setdefault("annotations", {})
        # KubeRay merges: a detected serve port the user also lists is the user's (its appProtocol,
        # nodePort, targetPort); with no detected serve port, the user's ports stay as they are.
        if ports:
            users = {p.get("name"): p for p in spec.get("ports") or []}
            spec["ports"] = [copy.deepcopy(users.get(p["name"], p)) for p in ports]
        meta["labels"] = {**(meta.get("labels") or {}), **labels}
        meta["name"] = meta.get("name") or naming.serve_service(name)
        meta["namespace"] = cluster.metadata.namespace
        if not spec.get("type") and service_type:
            spec["type"] = service_type
        return {"apiVersion": "v1", "kind": "Service", **service}
    if not ports:
        return None
    spec = {"selector": selector, "ports": ports}
    if service_type:
        spec["type"] = service_type
    metadata = {"name": naming.serve_service(name), "namespace": cluster.metadata.namespace, "labels": labels}
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}


def build_headless_worker_service(cluster: RayCluster) -> dict[str, Any]:
    """Peer discovery for multi-host worker groups (`numOfHosts > 1`)."""
    name = cluster.metadata.name or ""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": naming.headless_worker_service(name),
            "namespace": cluster.metadata.namespace,
            "labels": {c.RAY_HEADLESS_SERVICE_LABEL: name},
        },
        "spec": {
            "clusterIP": "None",
            "selector": {c.RAY_CLUSTER_LABEL: name, c.RAY_NODE_TYPE_LABEL: c.WORKER_NODE},
            "type": "ClusterIP",
            "publishNotReadyAddresses": True,
        },
    }
