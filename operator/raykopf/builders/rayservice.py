"""What a RayService creates: its RayClusters and its head and serve Services (≙ rayservice_controller.go
constructRayClusterForRayService, the Service builders)."""

from __future__ import annotations

import copy
from typing import Any

from raykopf import constants as c
from raykopf.api import RayCluster
from raykopf.api.rayservice import RayService
from raykopf.builders.labels import owned_by
from raykopf.builders.service import build_owner_head_service, build_serve_service
from raykopf.config import OperatorConfig

HASH_ANNOTATION = "ray.io/hash-without-replicas-and-workers-to-delete"
NUM_WORKER_GROUPS_ANNOTATION = "ray.io/num-worker-groups"


def _owned(body: dict[str, Any], svc: RayService) -> dict[str, Any]:
    return owned_by(body, name=svc.metadata.name or "", uid=svc.metadata.uid, kind="RayService")


def build_cluster(svc: RayService, raw: dict[str, Any], name: str, spec_hash: str) -> dict[str, Any]:
    """`<rayservice>-<5 random>`: `rayClusterConfig` as written, the RayService's labels and annotations
    plus KubeRay's (the spec hash decides later whether the cluster is out of date)."""
    spec = copy.deepcopy(raw["spec"]["rayClusterConfig"])
    labels = {
        **(svc.metadata.labels or {}),
        c.RAY_ORIGINATED_FROM_CR_NAME_LABEL: svc.metadata.name or "",
        c.RAY_ORIGINATED_FROM_CRD_LABEL: "RayService",
    }
    annotations = {
        **(svc.metadata.annotations or {}),
        HASH_ANNOTATION: spec_hash,
        NUM_WORKER_GROUPS_ANNOTATION: str(len(spec.get("workerGroupSpecs") or [])),
        c.KUBERAY_VERSION_ANNOTATION: c.OPERATOR_VERSION,
    }
    metadata = {
        "name": name,
        "namespace": svc.metadata.namespace,
        "labels": labels,
        "annotations": annotations,
    }
    return _owned({"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": metadata, "spec": spec}, svc)


def build_services(
    svc: RayService, raw: dict[str, Any], cluster: RayCluster, config: OperatorConfig
) -> list[dict[str, Any]]:
    """`<svc>-head-svc` and `<svc>-serve-svc`, both selecting `cluster` (the one serving traffic). Both
    carry `ray.io/cluster` of that cluster, which puts them in the operator's Service cache."""
    name = svc.metadata.name or ""
    head = build_owner_head_service(cluster, config, kind="RayService", name=name, uid=svc.metadata.uid)
    template = copy.deepcopy(raw["spec"].get("serveService")) or None
    serve = build_serve_service(cluster, owner=name, owner_kind="RayService", template=template)
    if serve is None:
        return [head]
    serve["metadata"]["labels"][c.RAY_CLUSTER_LABEL] = cluster.metadata.name or ""
    return [head, _owned(serve, svc)]
