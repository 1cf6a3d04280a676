"""kopf as an event source only: `@kopf.on.event` handlers enqueue keys. They store nothing on the
objects (no finalizers, no annotations, no status fields). Children (Pods, Services, Jobs) come from the
watch caches in `raykopf.k8s.informer`, which enqueue their owner themselves."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kopf

from raykopf.controller.workqueue import WorkQueue
from raykopf.k8s.store import LatestStore


def _on_events(
    registry: kopf.OperatorRegistry,
    plural: str,
    queue: WorkQueue,
    bodies: LatestStore,
    also: Callable[[str, str], None] | None = None,
) -> None:
    """`bodies` keeps the latest body each event brought, so a pass needs no GET."""

    @kopf.on.event("ray.io", "v1", plural, id=f"{plural}-events", registry=registry)
    async def on_event(
        *, type: str, name: str, namespace: str | None, event: kopf.RawEvent, **_: Any
    ) -> None:
        if namespace is None:
            return
        if type == "DELETED":
            bodies.pop(namespace, name)
            queue.forget((namespace, name))
        else:
            body = dict(event["object"])
            before = bodies.get(namespace, name)
            bodies.put(body)
            queue.add((namespace, name), urgent=_spec_changed(before, body))
        if also is not None:
            also(namespace, name)


def _spec_changed(before: dict[str, Any] | None, after: dict[str, Any]) -> bool:
    """A change the user made (a new spec, a deletion) rather than a status write or a label."""
    if before is None:
        return True
    old, new = before.get("metadata") or {}, after.get("metadata") or {}
    return old.get("generation") != new.get("generation") or (
        "deletionTimestamp" in new and "deletionTimestamp" not in old
    )


def register(
    registry: kopf.OperatorRegistry,
    *,
    raycluster_queue: WorkQueue,
    rayclusters: LatestStore,
    rayjob_queue: WorkQueue,
    rayjobs: LatestStore,
    rayservice_queue: WorkQueue,
    rayservices: LatestStore,
    cluster_changed: Callable[[str, str], None],
) -> None:
    """`cluster_changed(namespace, cluster)` wakes whatever runs on that cluster (a RayJob, a RayService)."""
    _on_events(registry, "rayclusters", raycluster_queue, rayclusters, cluster_changed)
    _on_events(registry, "rayjobs", rayjob_queue, rayjobs)
    _on_events(registry, "rayservices", rayservice_queue, rayservices)
