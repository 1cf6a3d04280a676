"""RayCluster I/O: observe its children from the watch caches, carry out a plan, write the status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from raykopf.k8s.client import ApiError, KubeClient
from raykopf.k8s.events import EventRecorder
from raykopf.k8s.informer import Informer
from raykopf.k8s.objects import item, path_of
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


@dataclass
class ClusterIO:
    client: KubeClient
    pods: Informer
    services: Informer
    events: EventRecorder

    def observe(self, namespace: str, name: str, head_service_name: str) -> Observed:
        return Observed(
            pods=self.pods.owned(namespace, name),
            head_service=self.services.get(namespace, head_service_name),
        )

    async def ensure(self, owner: dict[str, Any], body: dict[str, Any], reason: str) -> None:
        """Create `body` unless an object of that name exists (KubeRay creates these once, never updates)."""
        meta = body["metadata"]
        if body["kind"] == "Service" and self.services.get(meta["namespace"], meta["name"]) is not None:
            return
        if await self.client.get(f"{path_of(body)}/{meta['name']}") is not None:
            return
        try:
            created = await self.client.create(path_of(body), body)
        except ApiError as error:
            if error.status != 409:
                raise
            return
        if body["kind"] == "Service":
            self.services.upsert(created)
        self.events.record(
            owner,
            "RayCluster",
            "Normal",
            reason,
            f"Created {body['kind']} {meta['namespace']}/{meta['name']}",
        )

    async def execute(self, owner: dict[str, Any], plan: Plan) -> str | None:
        """Carry out the plan's deletes and creates; return the first failure as `<ReplicaFailure reason>: <message>`.

        Every write goes into the Pod cache at once, so the next pass never creates a Pod twice."""
        failure: str | None = None
        for delete in plan.deletes:
            try:
                gone = await self.client.request("DELETE", item(delete.kind, delete.namespace, delete.name))
            except ApiError as error:
                if error.status == 404:
                    self.pods.remove(delete.namespace, delete.name)
                    continue
                failure = failure or f"{FAILED_REASONS[delete.reason]}: {error}"
                self.events.record(owner, "RayCluster", "Warning", EVENT_FAILURE[delete.reason], str(error))
                continue
            if gone.get("kind") == "Pod" and gone.get("metadata", {}).get("deletionTimestamp"):
                self.pods.upsert(gone)
            else:
                self.pods.remove(delete.namespace, delete.name)
            self.events.record(
                owner, "RayCluster", "Normal", delete.reason, f"Deleted Pod {delete.namespace}/{delete.name}"
            )
        for create in plan.creates:
            try:
                created = await self.client.create(path_of(create.body), create.body)
            except ApiError as error:
                failure = failure or f"{FAILED_REASONS[create.reason]}: {error}"
                self.events.record(owner, "RayCluster", "Warning", EVENT_FAILURE[create.reason], str(error))
                break  # as KubeRay: stop at the first failed create, retry on the next pass
            self.pods.upsert(created)
            meta = created["metadata"]
            self.events.record(
                owner,
                "RayCluster",
                "Normal",
                create.reason,
                f"Created Pod {meta['namespace']}/{meta['name']}",
            )
        for event in plan.events:
            self.events.record(owner, "RayCluster", event.type, event.reason, event.message)
        return failure

    async def write_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        await self.client.merge_patch(f"{item('RayCluster', namespace, name)}/status", {"status": status})
