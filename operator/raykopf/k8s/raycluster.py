"""RayCluster I/O: observe its children from the watch caches, carry out a plan, write the status."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from raykopf.k8s.client import ApiError, KubeClient
from raykopf.k8s.events import EventRecorder
from raykopf.k8s.informer import Informer
from raykopf.k8s.objects import item, path_of
from raykopf.reconcile.plan import Create, Delete, Plan
from raykopf.reconcile.raycluster import Observed

# Creates in flight for one pass: a small cluster (head and 3 workers) in one round trip, then
# doubling up to MAX_BATCH; the HTTP pool (50) stays open to the other clusters.
FIRST_BATCH = 4
MAX_BATCH = 32
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


def _note(what: str) -> Callable[[list[str]], str]:
    """KubeRay's "Created worker Pod ns/name", or the plural listing every Pod of the pass."""

    def note(names: list[str]) -> str:
        verb, noun = what.split(" ", 1)
        return (
            f"{verb} {noun} {names[0]}"
            if len(names) == 1
            else f"{verb} {len(names)} {noun}s: {', '.join(names)}"
        )

    return note


_EVENT_NOTES = {
    "CreatedHeadPod": _note("Created head Pod"),
    "CreatedWorkerPod": _note("Created worker Pod"),
    "DeletedHeadPod": _note("Deleted head Pod"),
    "DeletedWorkerPod": _note("Deleted worker Pod"),
    "DeletedPod": _note("Deleted Pod"),
}


class NotOurs(Exception):
    pass


def _check_grant_is_ours(existing: dict[str, Any], owner: dict[str, Any]) -> None:
    """A Role or RoleBinding of the autoscaler's name that this RayCluster does not own was made by
    someone else, with rights the operator did not choose: never build on it (KubeRay does)."""
    if existing.get("kind") not in ("Role", "RoleBinding"):
        return
    uid = owner["metadata"].get("uid")
    if not any(ref.get("uid") == uid for ref in existing["metadata"].get("ownerReferences") or []):
        meta = existing["metadata"]
        raise NotOurs(
            f"{existing['kind']} {meta['namespace']}/{meta['name']} exists and is not this RayCluster's: "
            "its autoscaler would run with rights the operator did not grant; delete or rename it"
        )


@dataclass(frozen=True)
class Failure:
    """A write the apiserver refused: `<ReplicaFailure reason>: <message>` (KubeRay's status reason
    and message), and how long it asked to wait, if it did."""

    text: str
    retry_after: float | None = None

    def __str__(self) -> str:
        return self.text


# What a request can fail with besides an answer: its outcome is unknown.
UNANSWERED = (aiohttp.ClientError, TimeoutError, OSError)


@dataclass
class ClusterIO:
    client: KubeClient
    pods: Informer
    services: Informer
    events: EventRecorder
    unsure: set[tuple[str, str]] = field(default_factory=set)
    """RayClusters with a Pod create whose outcome is unknown (a 5xx or no answer: it may have been
    made, under a generated name the cache cannot know yet)."""

    async def settle_unsure(self, namespace: str, name: str) -> None:
        """Read the RayCluster's Pods from the apiserver before a pass that follows an unknown create,
        so that a Pod made without the operator hearing of it is never made again."""
        if (namespace, name) in self.unsure:
            await self.pods.refresh(namespace, name)
            self.unsure.discard((namespace, name))

    def observe(self, namespace: str, name: str, head_service_name: str) -> Observed:
        return Observed(
            pods=self.pods.owned(namespace, name),
            head_service=self.services.get(namespace, head_service_name),
        )

    async def ensure(self, owner: dict[str, Any], body: dict[str, Any], reason: str | None) -> None:
        """Create `body` unless an object of that name exists (KubeRay creates these once, never updates);
        `reason` names the Event that says so (None: no Event, as KubeRay posts none for Secrets)."""
        meta = body["metadata"]
        cached = body["kind"] == "Service" and self.services.covers(body)
        if cached and self.services.get(meta["namespace"], meta["name"]) is not None:
            return
        if not cached:
            existing = await self.client.get(f"{path_of(body)}/{meta['name']}")
            if existing is not None:
                _check_grant_is_ours(existing, owner)
                return
        try:
            created = await self.client.create(path_of(body), body)
        except ApiError as error:
            if error.status != 409:
                raise
            existing = await self.client.get(f"{path_of(body)}/{meta['name']}")
            if existing is not None:
                _check_grant_is_ours(existing, owner)
            return
        if body["kind"] == "Service":
            self.services.upsert(created)
        if reason is None:
            return
        self.events.record(
            owner,
            "RayCluster",
            "Normal",
            reason,
            f"Created {body['kind']} {meta['namespace']}/{meta['name']}",
        )

    async def execute(self, owner: dict[str, Any], plan: Plan) -> Failure | None:
        """Carry out the plan's deletes, then its creates; return the first failure (its text
        `<ReplicaFailure reason>: <message>`).

        A head Pod goes first, alone: if it cannot be created, no worker is tried (as in KubeRay). The
        workers go in "slow start" batches of 4, 8, 16, ... (as the ReplicaSet controller does, from
        1), ever larger while everything succeeds, stopping after a batch with a failure (KubeRay stops
        at the first failed create). Every write goes into the Pod cache at once, so the next pass
        never creates a Pod twice."""
        done: dict[str, list[str]] = {}
        results = await asyncio.gather(*(self._delete(owner, d, done) for d in plan.deletes))
        failure = next((r for r in results if r), None)
        for patch in plan.patches:
            self.pods.upsert(
                await self.client.merge_patch(item(patch.kind, patch.namespace, patch.name), patch.body)
            )
        pending, size = list(plan.creates), FIRST_BATCH
        if pending and pending[0].reason == "CreatedHeadPod":
            head_failure = await self._create(owner, pending.pop(0), done)
            if head_failure:
                failure, pending = failure or head_failure, []
        while pending:
            batch, pending = pending[:size], pending[size:]
            results = await asyncio.gather(*(self._create(owner, c, done) for c in batch))
            if any(results):
                failure = failure or next(r for r in results if r)
                break
            size = min(size * 2, MAX_BATCH)
        # One event per reason and pass, naming every Pod: a scale-up by 500 is one event, not 500.
        explained = {event.reason for event in plan.events}  # the plan's own event says why
        for reason, names in done.items():
            if reason in explained:
                continue
            self.events.record(owner, "RayCluster", "Normal", reason, _EVENT_NOTES[reason](names))
        for event in plan.events:
            self.events.record(owner, "RayCluster", event.type, event.reason, event.message)
        return failure

    async def _delete(
        self, owner: dict[str, Any], delete: Delete, done: dict[str, list[str]]
    ) -> Failure | None:
        try:
            gone = await self.client.request("DELETE", item(delete.kind, delete.namespace, delete.name))
        except ApiError as error:
            if error.status == 404:
                self.pods.remove(delete.namespace, delete.name)
                return None
            self.events.record(owner, "RayCluster", "Warning", EVENT_FAILURE[delete.reason], str(error))
            return Failure(f"{FAILED_REASONS[delete.reason]}: {error.message}", error.retry_after)
        except UNANSWERED as error:  # a delete is safe to repeat: the next pass does
            self.events.record(owner, "RayCluster", "Warning", EVENT_FAILURE[delete.reason], repr(error))
            return Failure(f"{FAILED_REASONS[delete.reason]}: {error!r}")
        if gone.get("kind") == "Pod" and gone.get("metadata", {}).get("deletionTimestamp"):
            self.pods.upsert(gone)
        else:
            self.pods.remove(delete.namespace, delete.name)
        done.setdefault(delete.reason, []).append(f"{delete.namespace}/{delete.name}")
        return None

    async def _create(
        self, owner: dict[str, Any], create: Create, done: dict[str, list[str]]
    ) -> Failure | None:
        meta = create.body["metadata"]
        try:
            created = await self.client.create(path_of(create.body), create.body)
        except ApiError as error:
            if error.status >= 500:
                self.unsure.add((meta["namespace"], _cluster_of(create.body)))
            self.events.record(owner, "RayCluster", "Warning", EVENT_FAILURE[create.reason], str(error))
            return Failure(f"{FAILED_REASONS[create.reason]}: {error.message}", error.retry_after)
        except UNANSWERED as error:
            # Returned, not raised: the rest of the batch is still in flight, and its answers must
            # reach the cache before the next pass plans.
            self.unsure.add((meta["namespace"], _cluster_of(create.body)))
            self.events.record(owner, "RayCluster", "Warning", EVENT_FAILURE[create.reason], repr(error))
            return Failure(f"{FAILED_REASONS[create.reason]}: {error!r}")
        self.pods.upsert(created)
        meta = created["metadata"]
        done.setdefault(create.reason, []).append(f"{meta['namespace']}/{meta['name']}")
        return None

    async def create_job(self, owner: dict[str, Any], body: dict[str, Any]) -> None:
        meta = body["metadata"]
        try:
            await self.client.create(path_of(body), body)
        except ApiError as error:
            if error.status == 409:
                return
            self.events.record(owner, "RayCluster", "Warning", "FailedToCreateRedisCleanupJob", str(error))
            raise
        self.events.record(
            owner,
            "RayCluster",
            "Normal",
            "CreatedRedisCleanupJob",
            f"Created Redis cleanup Job {meta['namespace']}/{meta['name']}",
        )

    async def write_status(self, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
        """Patch the status subresource; return the updated object."""
        return await self.client.merge_patch(
            f"{item('RayCluster', namespace, name)}/status", {"status": status}
        )


def _cluster_of(pod: dict[str, Any]) -> str:
    return str((pod["metadata"].get("labels") or {}).get("ray.io/cluster", ""))
