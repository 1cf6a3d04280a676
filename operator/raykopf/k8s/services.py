"""Services a RayJob or RayService owns that exist already but are not in the Service cache."""

from __future__ import annotations

from typing import Any

from raykopf.k8s.client import KubeClient
from raykopf.k8s.informer import Informer
from raykopf.k8s.objects import item


async def take_over_service(client: KubeClient, services: Informer, body: dict[str, Any]) -> dict[str, Any]:
    """The Service named in `body` exists (a create answered 409) but the cache, which selects on
    `ray.io/cluster`, does not hold it: KubeRay made it, without that label. Add raykopf's labels and
    point its selector as `body` says, so that it joins the cache; its ClusterIP stays."""
    meta = body["metadata"]
    patch = {"metadata": {"labels": meta.get("labels") or {}}, "spec": {"selector": body["spec"]["selector"]}}
    updated = await client.merge_patch(item("Service", meta["namespace"], meta["name"]), patch)
    services.upsert(updated)
    return updated
