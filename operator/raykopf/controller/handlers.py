"""kopf as an event source only: `@kopf.on.event` handlers enqueue keys. They store nothing on the
objects (no finalizers, no annotations, no status fields)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from raykopf import constants as c
from raykopf.controller.workqueue import WorkQueue


def register(registry: kopf.OperatorRegistry, raycluster_queue: WorkQueue) -> None:
    @kopf.on.event("ray.io", "v1", "rayclusters", id="raycluster-events", registry=registry)
    async def on_raycluster_event(*, type: str, name: str, namespace: str | None, **_: Any) -> None:
        if namespace is None:
            return
        if type == "DELETED":
            raycluster_queue.forget((namespace, name))
            return
        raycluster_queue.add((namespace, name))

    # Only Ray Pods, so that memory and work grow with the Ray Pods, not with every Pod of the cluster.
    @kopf.on.event(
        "",
        "v1",
        "pods",
        labels={c.RAY_NODE_TYPE_LABEL: kopf.PRESENT, c.RAY_CLUSTER_LABEL: kopf.PRESENT},
        id="ray-pod-events",
        registry=registry,
    )
    async def on_ray_pod_event(*, labels: Mapping[str, str], namespace: str | None, **_: Any) -> None:
        if namespace is not None:
            raycluster_queue.add((namespace, labels[c.RAY_CLUSTER_LABEL]))
