"""Kubernetes Events with KubeRay's reason strings, posted for the object they concern."""

from __future__ import annotations

import datetime
import logging
import uuid
from typing import Any

from raykopf.k8s.client import ApiError, KubeClient
from raykopf.k8s.objects import collection

log = logging.getLogger("raykopf")
COMPONENT = "raykopf-operator"


async def post_event(
    client: KubeClient, obj: dict[str, Any], kind: str, event_type: str, reason: str, message: str
) -> None:
    """Best effort: an event that cannot be posted is logged, never raised."""
    meta = obj["metadata"]
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:16]}", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion", "ray.io/v1"),
            "kind": kind,
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid"),
        },
        "type": event_type,
        "reason": reason,
        "message": message[:1024],
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
    }
    try:
        await client.create(collection("Event", meta["namespace"]), body)
    except (ApiError, OSError) as error:
        log.warning("event not posted", extra={"reason": reason, "error": str(error)[:200]})
