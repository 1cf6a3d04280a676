"""RayCluster I/O: observe its children, carry out a plan, write the status subresource."""

from __future__ import annotations

from typing import Any

from raykopf import constants as c
from raykopf.k8s.client import ApiError, KubeClient
from raykopf.k8s.events import post_event
from raykopf.k8s.objects import collection, item, path_of
from raykopf.reconcile.plan import Plan
from raykopf.reconcile.raycluster import Observed

FAILED_REASONS = {
    "CreatedHeadPod": "FailedCreateHeadPod",
    "CreatedWorkerPod": "FailedCreateWorkerPod",
    "DeletedHeadPod": "FailedDeleteHeadPod",
    "DeletedWorkerPod": "FailedDeleteWorkerPod",
    "DeletedPod": "FailedDeleteAllPods",
}
EVENT_FAILURE = {
    "CreatedHeadPod": "FailedToCreateHeadPod",
    "CreatedWorkerPod": "FailedToCreateWorkerPod",
    "DeletedHeadPod": "FailedToDeleteHeadPod",
    "DeletedWorkerPod": "FailedToDeleteWorkerPod",
    "DeletedPod": "FailedToDeletePodCollection",
}


async def observe(client: KubeClient, namespace: str, name: str, head_service_name: str) -> Observed:
    listing = await client.request(
        "GET", collection("Pod", namespace), params={"labelSelector": f"{c.RAY_CLUSTER_LABEL}={name}"}
    )
    service = await client.get(item("Service", namespace, head_service_name))
    return Observed(pods=tuple(listing.get("items") or []), head_service=service)


async def ensure(client: KubeClient, owner: dict[str, Any], body: dict[str, Any], reason: str) -> None:
    """Create `body` unless an object of that name exists (KubeRay creates these once, never updates)."""
    if await client.get(f"{path_of(body)}/{body['metadata']['name']}") is not None:
        return
    try:
        await client.create(path_of(body), body)
    except ApiError as error:
        if error.status != 409:
            raise
        return
    await post_event(
        client,
        owner,
        "RayCluster",
        "Normal",
        reason,
        f"Created {body['kind']} {body['metadata']['namespace']}/{body['metadata']['name']}",
    )


async def execute(client: KubeClient, owner: dict[str, Any], plan: Plan) -> str | None:
    """Carry out the plan's deletes and creates; return the first failure as `<ReplicaFailure reason>: <message>`."""
    failure: str | None = None
    for delete in plan.deletes:
        try:
            await client.delete(item(delete.kind, delete.namespace, delete.name))
            await post_event(
                client,
                owner,
                "RayCluster",
                "Normal",
                delete.reason,
                f"Deleted Pod {delete.namespace}/{delete.name}",
            )
        except ApiError as error:
            failure = failure or f"{FAILED_REASONS[delete.reason]}: {error}"
            await post_event(client, owner, "RayCluster", "Warning", EVENT_FAILURE[delete.reason], str(error))
    for create in plan.creates:
        try:
            created = await client.create(path_of(create.body), create.body)
            await post_event(
                client,
                owner,
                "RayCluster",
                "Normal",
                create.reason,
                f"Created {create.body['kind']} {created['metadata']['namespace']}/{created['metadata']['name']}",
            )
        except ApiError as error:
            failure = failure or f"{FAILED_REASONS[create.reason]}: {error}"
            await post_event(client, owner, "RayCluster", "Warning", EVENT_FAILURE[create.reason], str(error))
            break  # as KubeRay: stop at the first failed create, retry on the next pass
    for event in plan.events:
        await post_event(client, owner, "RayCluster", event.type, event.reason, event.message)
    return failure


async def write_status(client: KubeClient, namespace: str, name: str, status: dict[str, Any]) -> None:
    await client.merge_patch(f"{item('RayCluster', namespace, name)}/status", {"status": status})
