"""kopf as an event source only: `@kopf.on.event` handlers enqueue keys. They store nothing on the
objects (no finalizers, no annotations, no status fields). Children (Pods, Services) come from the
watch caches in `raykopf.k8s.informer`, which enqueue their owner themselves."""

from __future__ import annotations

from typing import Any

import kopf

from raykopf.controller.workqueue import WorkQueue
from raykopf.k8s.store import LatestStore


def register(registry: kopf.OperatorRegistry, raycluster_queue: WorkQueue, rayclusters: LatestStore) -> None:
    """`rayclusters` keeps the latest body each event brought, so a pass needs no GET."""

    @kopf.on.event("ray.io", "v1", "rayclusters", id="raycluster-events", registry=registry)
    async def on_raycluster_event(
        *, type: str, name: str, namespace: str | None, event: kopf.RawEvent, **_: Any
    ) -> None:
        if namespace is None:
            return
        if type == "DELETED":
            rayclusters.pop(namespace, name)
            raycluster_queue.forget((namespace, name))
            return
        rayclusters.put(dict(event["object"]))
        raycluster_queue.add((namespace, name))
