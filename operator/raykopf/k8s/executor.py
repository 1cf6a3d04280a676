"""The one executor: carries out a pass's `Actions` against the apiserver in the order
`raykopf.reconcile.actions` gives, for all three kinds, and writes statuses one way.

Status writes are JSON merge patches of what changed, carrying the resourceVersion the pass read: a
field nobody changed is never sent (a concurrent writer's keys survive), and a write planned from an
old version of the object fails with 409 instead of landing (a deposed leader's write, or one made
before a spec edit); the pass is then retried from the new version."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from raykopf.api.base import ApiModel
from raykopf.k8s.client import ApiError, KubeClient
from raykopf.k8s.events import EventRecorder
from raykopf.k8s.informer import Informer
from raykopf.k8s.objects import changes, item, path_of
from raykopf.reconcile.actions import (
    KEEP,
    MUST_BE_OURS,
    SAID,
    TAKE_OVER,
    Actions,
    Create,
    Delete,
    Failure,
    Patch,
    RetryLater,
)

# Creates in flight for one pass: a small cluster (head and 3 workers) in one round trip, then
# doubling up to MAX_BATCH; the HTTP pool (50) stays open to the other clusters.
FIRST_BATCH = 4
MAX_BATCH = 32

# What a request can fail with besides an answer: its outcome is unknown.
UNANSWERED = (aiohttp.ClientError, TimeoutError, OSError)


class Cache(Protocol):
    def upsert(self, obj: dict[str, Any]) -> Any: ...

    def remove(self, namespace: str, name: str) -> Any: ...


class NotOurs(Exception):
    pass


def _check_ours(existing: dict[str, Any], owner: dict[str, Any]) -> None:
    """A Role or RoleBinding of the autoscaler's name that this RayCluster does not own was made by
    someone else, with rights the operator did not choose: never build on it (KubeRay does)."""
    uid = owner["metadata"].get("uid")
    if not any(ref.get("uid") == uid for ref in existing["metadata"].get("ownerReferences") or []):
        meta = existing["metadata"]
        raise NotOurs(
            f"{existing['kind']} {meta['namespace']}/{meta['name']} exists and is not this RayCluster's: "
            "its autoscaler would run with rights the operator did not grant; delete or rename it"
        )


@dataclass(frozen=True)
class Outcome:
    owner: dict[str, Any] | None
    """The owner as last written (None: it is gone)."""
    failure: Failure | None = None


def _full_name(obj: dict[str, Any]) -> str:
    return f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"


def _what(action: Create | Delete | Patch) -> dict[str, str]:
    if isinstance(action, Create):
        meta = action.body["metadata"]
        return {"kind": action.body["kind"], "name": meta.get("name") or meta.get("generateName", "")}
    return {"kind": action.kind, "name": action.name}


def _cluster_of(pod: dict[str, Any]) -> str:
    return str((pod["metadata"].get("labels") or {}).get("ray.io/cluster", ""))


@dataclass
class Executor:
    client: KubeClient
    events: EventRecorder
    caches: dict[str, Cache]
    """Kind -> where the operator's own writes of that kind go at once (Pods, Services, the three
    ray.io kinds, Jobs), so that the next pass plans from them."""
    unsure: set[tuple[str, str]] = field(default_factory=set)
    """RayClusters with a Pod create whose outcome is unknown (a 5xx or no answer: it may have been
    made, under a generated name the cache cannot know yet)."""

    # -- status and finalizers: one way for every kind ----------------------------------------------
    async def write_status(self, kind: str, owner: dict[str, Any], status: ApiModel) -> dict[str, Any] | None:
        """Write `status` (the kind's `*Status` model) over the owner's; the owner as written, or None
        when it is gone. Raises RetryLater when the owner changed since it was read (the cache then
        holds the new version)."""
        meta = owner["metadata"]
        patch = changes(owner.get("status") or {}, status.to_dict())
        if not patch:
            return owner
        body = {"metadata": {"resourceVersion": meta.get("resourceVersion")}, "status": patch}
        path = item(kind, meta["namespace"], meta["name"])
        try:
            updated = await self.client.merge_patch(f"{path}/status", body)
        except ApiError as error:
            if error.status == 404:
                self.caches[kind].remove(meta["namespace"], meta["name"])
                return None
            if error.status != 409:
                raise
            await self._changed_meanwhile(kind, meta, error)
            return None
        self.caches[kind].upsert(updated)
        return updated

    async def _changed_meanwhile(self, kind: str, meta: dict[str, Any], error: ApiError) -> None:
        """After a 409 on the owner: the cache takes its current version (or forgets it, gone) and
        the key is retried from there (RetryLater: not a failure, nothing reported on the object)."""
        path = item(kind, meta["namespace"], meta["name"])
        fresh = await self.client.get(path)
        if fresh is None:
            self.caches[kind].remove(meta["namespace"], meta["name"])
            return
        self.caches[kind].upsert(fresh)
        raise RetryLater(f"{kind} {meta['namespace']}/{meta['name']} changed meanwhile") from error

    async def set_finalizer(
        self, kind: str, owner: dict[str, Any], finalizer: str, *, present: bool
    ) -> dict[str, Any]:
        """Add or remove only `finalizer`, keeping everyone else's; the resourceVersion turns a
        concurrent change into a 409 (the key is retried) instead of dropping another's finalizer."""
        meta = owner["metadata"]
        finalizers = [f for f in meta.get("finalizers") or [] if f != finalizer]
        if present:
            finalizers.append(finalizer)
        patch = {"metadata": {"finalizers": finalizers, "resourceVersion": meta.get("resourceVersion")}}
        try:
            updated = await self.client.merge_patch(item(kind, meta["namespace"], meta["name"]), patch)
        except ApiError as error:
            if error.status != 409:
                raise
            await self._changed_meanwhile(kind, meta, error)
            # Gone meanwhile: nothing to report either; the next pass finds nothing to do.
            raise RetryLater(f"{kind} {meta['namespace']}/{meta['name']} is gone") from error
        self.caches[kind].upsert(updated)
        return updated

    # -- a pass --------------------------------------------------------------------------------------
    async def run(
        self, kind: str, owner: dict[str, Any], actions: Actions, *, write_status: bool = True
    ) -> Outcome:
        """Carry out `actions` for `owner` (of `kind`) in the fixed order; the first failure is
        returned, not raised, so that creates still in flight reach the cache before the next pass.
        `write_status=False`: the caller writes the status itself, from what the writes left."""
        finalizers = owner["metadata"].get("finalizers") or []
        if actions.add_finalizer and actions.add_finalizer not in finalizers:
            owner = await self.set_finalizer(kind, owner, actions.add_finalizer, present=True)
        if actions.status_first and actions.status is not None:
            written = await self.write_status(kind, owner, actions.status)
            if written is None:
                return Outcome(None)
            owner = written
        done: dict[tuple[str, str], list[str]] = {}
        results = await asyncio.gather(*(self._delete(kind, owner, d, done) for d in actions.deletes))
        failure = next((r for r in results if r), None)
        for patch in actions.patches:
            refused = await self._patch(kind, owner, patch, done)
            failure = failure or refused
        refused = await self._creates(kind, owner, actions.creates, done)
        failure = failure or refused
        self._tell(kind, owner, actions, done, explained=failure is None)
        if failure is not None:
            return Outcome(owner, failure)
        if write_status and actions.status is not None:
            written = await self.write_status(kind, owner, actions.status)
            if written is None:
                return Outcome(None)
            owner = written
        if actions.remove_finalizer and actions.remove_finalizer in (
            owner["metadata"].get("finalizers") or []
        ):
            owner = await self.set_finalizer(kind, owner, actions.remove_finalizer, present=False)
        if actions.delete_owner:
            meta = owner["metadata"]
            await self.client.delete(
                item(kind, meta["namespace"], meta["name"]), body={"propagationPolicy": "Background"}
            )
        return Outcome(owner)

    def _tell(
        self,
        kind: str,
        owner: dict[str, Any],
        actions: Actions,
        done: dict[tuple[str, str], list[str]],
        *,
        explained: bool,
    ) -> None:
        """One Event per reason and pass, naming every object (a scale-up by 500 is one Event, not
        500); a reason the plan's own Event explains is not said twice."""
        own = {event.reason for event in actions.events} if explained else set()
        for (reason, note), names in done.items():
            if reason in own:
                continue
            said = SAID[reason]
            if len(names) > 1 and said.plural:
                message = said.plural.format(n=len(names), names=", ".join(names))
                self.events.record(owner, kind, "Normal", reason, message)
            else:
                for name in names:
                    self.events.record(owner, kind, "Normal", reason, (note or said.note).format(name))
        if explained:
            for event in actions.events:
                self.events.record(owner, kind, event.type, event.reason, event.message)

    def _refused(
        self,
        kind: str,
        owner: dict[str, Any],
        reason: str | None,
        error: Exception,
        verb: str,
        what: dict[str, str],
    ) -> Failure:
        """Say on the owner that a write was refused (a Warning Event); the failure, typed."""
        said = SAID.get(reason or "")
        failed = said.failed if said else f"FailedTo{verb}{what['kind']}"
        message = error.message if isinstance(error, ApiError) else repr(error)
        self.events.record(owner, kind, "Warning", failed, f"{what['kind']} {what['name']}: {error}"[:1024])
        retry_after = error.retry_after if isinstance(error, ApiError) else None
        return Failure(failed, said.replica_failure if said else "", message, error, retry_after)

    async def _delete(
        self, kind: str, owner: dict[str, Any], delete: Delete, done: dict[tuple[str, str], list[str]]
    ) -> Failure | None:
        cache = self.caches.get(delete.kind)
        try:
            # Background: a batch Job's Pods go with it (its default is to orphan them).
            gone = await self.client.request(
                "DELETE",
                item(delete.kind, delete.namespace, delete.name),
                body={"propagationPolicy": "Background"},
            )
        except ApiError as error:
            if error.status == 404:
                if cache is not None:
                    cache.remove(delete.namespace, delete.name)
                return None
            return self._refused(kind, owner, delete.reason, error, "Delete", _what(delete))
        except UNANSWERED as error:  # a delete is safe to repeat: the next pass does
            return self._refused(kind, owner, delete.reason, error, "Delete", _what(delete))
        if cache is not None:
            if gone.get("kind") == delete.kind and (gone.get("metadata") or {}).get("deletionTimestamp"):
                cache.upsert(gone)  # still terminating: the next pass must not count it as gone
            else:
                cache.remove(delete.namespace, delete.name)
        if delete.reason is not None:
            done.setdefault((delete.reason, ""), []).append(f"{delete.namespace}/{delete.name}")
        return None

    async def _patch(
        self, kind: str, owner: dict[str, Any], patch: Patch, done: dict[tuple[str, str], list[str]]
    ) -> Failure | None:
        try:
            updated = await self.client.merge_patch(item(patch.kind, patch.namespace, patch.name), patch.body)
        except ApiError as error:
            if error.status == 404:
                return None  # gone meanwhile: the next pass plans without it
            if error.status == 409:
                raise RetryLater(f"{patch.kind} {patch.namespace}/{patch.name} changed meanwhile") from error
            return self._refused(kind, owner, patch.reason, error, "Update", _what(patch))
        cache = self.caches.get(patch.kind)
        if cache is not None:
            cache.upsert(updated)
        if patch.reason is not None:
            done.setdefault((patch.reason, patch.note), []).append(_full_name(updated))
        return None

    async def _creates(
        self, kind: str, owner: dict[str, Any], creates: list[Create], done: dict[tuple[str, str], list[str]]
    ) -> Failure | None:
        """The `first` creates one by one (none after a refused one); then the rest in "slow start"
        batches of 4, 8, 16, ... (as the ReplicaSet controller does, from 1), ever larger while
        everything succeeds, stopping after a batch with a failure (KubeRay stops at the first)."""
        for create in (c for c in creates if c.first):
            failure = await self._create(kind, owner, create, done)
            if failure is not None:
                return failure
        pending, size = [c for c in creates if not c.first], FIRST_BATCH
        while pending:
            batch, pending = pending[:size], pending[size:]
            results = await asyncio.gather(*(self._create(kind, owner, c, done) for c in batch))
            failure = next((r for r in results if r), None)
            if failure is not None:
                return failure
            size = min(size * 2, MAX_BATCH)
        return None

    async def _create(
        self, kind: str, owner: dict[str, Any], create: Create, done: dict[tuple[str, str], list[str]]
    ) -> Failure | None:
        body, meta = create.body, create.body["metadata"]
        named = f"{path_of(body)}/{meta.get('name')}"
        if create.look_first:
            existing = await self.client.get(named)
            if existing is not None:
                self._existing(owner, create, existing)
                return None
        try:
            created = await self.client.create(path_of(body), body)
        except ApiError as error:
            if error.status == 409 and meta.get("name"):
                await self._exists(kind, owner, create, named, done)
                return None
            if error.status >= 500 and body["kind"] == "Pod":
                self.unsure.add((meta["namespace"], _cluster_of(body)))
            return self._refused(kind, owner, create.reason, error, "Create", _what(create))
        except UNANSWERED as error:
            if body["kind"] == "Pod":
                self.unsure.add((meta["namespace"], _cluster_of(body)))
            return self._refused(kind, owner, create.reason, error, "Create", _what(create))
        cache = self.caches.get(body["kind"])
        if cache is not None:
            cache.upsert(created)
        if not create.silent:
            done.setdefault((create.reason, create.note), []).append(_full_name(created))
        return None

    def _existing(self, owner: dict[str, Any], create: Create, existing: dict[str, Any]) -> None:
        if create.if_exists == MUST_BE_OURS:
            _check_ours(existing, owner)

    async def _exists(
        self,
        kind: str,
        owner: dict[str, Any],
        create: Create,
        named: str,
        done: dict[tuple[str, str], list[str]],
    ) -> None:
        """The create answered 409: an object of that name is there (made by an earlier pass whose
        answer was lost, by the user, or by KubeRay)."""
        if create.if_exists == KEEP:
            return
        if create.if_exists == TAKE_OVER:
            taken = await self._take_over(create.body)
            done.setdefault(("UpdatedService", "Took over service {}"), []).append(_full_name(taken))
            return
        existing = await self.client.get(named)
        if existing is not None:
            self._existing(owner, create, existing)

    async def _take_over(self, body: dict[str, Any]) -> dict[str, Any]:
        """The Service named in `body` exists but the cache, which selects on `ray.io/cluster`, does not
        hold it: KubeRay made it, without that label. Add raykopf's labels and point its selector as
        `body` says, so that it joins the cache; its ClusterIP stays."""
        meta = body["metadata"]
        patch = {
            "metadata": {"labels": meta.get("labels") or {}},
            "spec": {"selector": body["spec"]["selector"]},
        }
        updated = await self.client.merge_patch(item("Service", meta["namespace"], meta["name"]), patch)
        self.caches["Service"].upsert(updated)
        return updated

    async def settle_unsure(self, namespace: str, name: str) -> None:
        """Read the RayCluster's Pods from the apiserver before a pass that follows an unknown create,
        so that a Pod made without the operator hearing of it is never made again."""
        pods = self.caches["Pod"]
        if (namespace, name) in self.unsure and isinstance(pods, Informer):
            await pods.refresh(namespace, name)
            self.unsure.discard((namespace, name))
