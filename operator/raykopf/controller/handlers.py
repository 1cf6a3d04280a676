"""kopf as an event source only: `@kopf.on.event` handlers enqueue keys. They store nothing on the
objects (no finalizers, no annotations, no status fields). Children (Pods, Services) come from the
watch caches in `raykopf.k8s.informer`, which enqueue their owner themselves."""

from __future__ import annotations

from typing import Any

import kopf

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
