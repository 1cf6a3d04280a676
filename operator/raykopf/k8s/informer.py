"""A watch cache of one kind of child object (client-go's informer, reduced to what the operator needs).

It lists, then watches from the list's resourceVersion; when the watch expires (410 Gone) it lists
again and *diffs* the listing against the cache, so an object deleted while no watch was open is
dropped too (kopf's relist does not report those), and one written after the listing's snapshot (the
operator's own create) is kept. Objects are kept slim, indexed by the value of one
label (the owning RayCluster's name), and every change calls `on_change(namespace, owner)`.

Writes made by the operator itself go into the cache at once (`upsert` with the API's response), so
the next reconcile pass sees its own creates and deletes even before the watch delivers them; a newer
resourceVersion always wins, so a late watch event can never roll an object back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from raykopf.k8s.client import ApiError, KubeClient
from raykopf.k8s.store import LatestStore, resource_version, version_number

log = logging.getLogger("raykopf")

Slim = Callable[[dict[str, Any]], dict[str, Any]]
OnChange = Callable[[str, str], None]
Key = tuple[str, str]
LIST_PAGE = 500
MAX_GONE = 10_000
"""How many deleted objects the cache remembers as gone."""


class Informer:
    def __init__(
        self,
        client: KubeClient,
        collection_paths: Iterable[str],
        *,
        selector: str,
        index_label: str,
        slim: Slim,
        on_change: OnChange,
    ) -> None:
        self.client = client
        self.paths = list(collection_paths)
        self.selector = selector
        self.index_label = index_label
        self.slim = slim
        self.on_change = on_change
        self._objects = LatestStore()
        self._by_owner: dict[Key, set[str]] = {}
        # Objects known to be gone, with the resourceVersion that said so: the answer to the
        # operator's own DELETE can arrive after the watch's DELETED event, and must not bring the
        # object back into the cache (a Pod that no longer exists, counted for good).
        self._gone: OrderedDict[Key, int] = OrderedDict()
        self.synced = asyncio.Event()
        self._synced_paths: set[str] = set()

    # -- reads ---------------------------------------------------------------------------------------
    def owned(self, namespace: str, owner: str) -> tuple[dict[str, Any], ...]:
        names = self._by_owner.get((namespace, owner), ())
        return tuple(obj for n in sorted(names) if (obj := self._objects.get(namespace, n)) is not None)

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._objects.get(namespace, name)

    def __len__(self) -> int:
        return len(self._objects)

    def covers(self, obj: dict[str, Any]) -> bool:
        """Whether the cache is authoritative for `obj`: synced, and `obj` carries the indexed label
        (an object absent from a synced cache does not exist, or its create is already in flight)."""
        return self.synced.is_set() and self.index_label in (obj["metadata"].get("labels") or {})

    # -- writes --------------------------------------------------------------------------------------
    def upsert(self, obj: dict[str, Any]) -> None:
        """Store `obj` (full or slim) unless the cache already holds a newer version."""
        meta = obj["metadata"]
        key = (meta["namespace"], meta["name"])
        if key in self._gone:
            if resource_version(obj) <= self._gone[key]:
                return
            del self._gone[key]  # made again under the same name
        current = self._objects.get(*key)
        slim = self.slim(obj)
        if not self._objects.put(slim):
            return
        old_owner = self._owner(current) if current is not None else None
        new_owner = self._owner(slim)
        if old_owner is not None and old_owner != new_owner:
            self._unindex(key, old_owner)
        if new_owner is not None:
            self._by_owner.setdefault((key[0], new_owner), set()).add(key[1])
        if current is None or current != slim:
            self._notify(key[0], old_owner, new_owner)

    def bury(self, namespace: str, name: str, version: str) -> None:
        """The object is gone as of `version`: out of the cache, and no older copy of it comes back."""
        self._gone[(namespace, name)] = max(version_number(version), self._gone.get((namespace, name), 0))
        self._gone.move_to_end((namespace, name))
        while len(self._gone) > MAX_GONE:
            self._gone.popitem(last=False)
        self.remove(namespace, name)

    def remove(self, namespace: str, name: str) -> None:
        current = self._objects.pop(namespace, name)
        if current is None:
            return
        owner = self._owner(current)
        if owner is not None:
            self._unindex((namespace, name), owner)
        self._notify(namespace, owner, None)

    def _owner(self, obj: dict[str, Any]) -> str | None:
        return (obj.get("metadata", {}).get("labels") or {}).get(self.index_label)

    def _unindex(self, key: Key, owner: str) -> None:
        names = self._by_owner.get((key[0], owner))
        if names is not None:
            names.discard(key[1])
            if not names:
                del self._by_owner[(key[0], owner)]

    def _notify(self, namespace: str, *owners: str | None) -> None:
        for owner in {o for o in owners if o is not None}:
            self.on_change(namespace, owner)

    # -- list and watch ------------------------------------------------------------------------------
    async def run(self) -> None:
        await asyncio.gather(*(self._run_path(path) for path in self.paths))

    async def _run_path(self, path: str) -> None:
        delay = 1.0
        while True:
            try:
                version = await self._relist(path)
                self._synced_paths.add(path)
                if len(self._synced_paths) == len(self.paths):
                    self.synced.set()
                delay = 1.0
                resume: str | None = version
                while resume is not None:
                    resume = await self._watch(path, resume)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a broken connection must not end the cache: list again
                log.warning("watch interrupted", extra={"path": path, "error": str(error)[:200]})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _relist(self, path: str) -> str:
        seen: set[Key] = set()
        params: dict[str, Any] = {"labelSelector": self.selector, "limit": LIST_PAGE}
        while True:
            page = await self.client.request("GET", path, params=params)
            for obj in page.get("items") or []:
                meta = obj["metadata"]
                seen.add((meta["namespace"], meta["name"]))
                self.upsert(obj)
            token = page.get("metadata", {}).get("continue")
            if not token:
                version: str = page.get("metadata", {}).get("resourceVersion", "0")
                break
            params = {**params, "continue": token}
        for key in [k for k in self._objects if k not in seen and self._under(path, k[0])]:
            if not _newer(self._objects.get(*key), version):
                self.bury(*key, version)
        return version

    async def refresh(self, namespace: str, owner: str) -> None:
        """Read `owner`'s objects in `namespace` from the apiserver now (a consistent read), for a pass
        that must not trust the cache: one of its creates may have been made without an answer."""
        path = next((p for p in self.paths if self._under(p, namespace)), None)
        if path is None:
            return
        if "/namespaces/" not in path:  # the cluster-wide collection: read the namespace's only
            prefix, _, resource = path.rpartition("/")
            path = f"{prefix}/namespaces/{namespace}/{resource}"
        selector = f"{self.selector},{self.index_label}={owner}"
        page = await self.client.request("GET", path, params={"labelSelector": selector})
        listed = page.get("metadata", {}).get("resourceVersion", "0")
        seen = set()
        for obj in page.get("items") or []:
            seen.add(obj["metadata"]["name"])
            self.upsert(obj)
        for cached in self.owned(namespace, owner):
            if cached["metadata"]["name"] not in seen and not _newer(cached, listed):
                self.bury(namespace, cached["metadata"]["name"], listed)

    @staticmethod
    def _under(path: str, namespace: str) -> bool:
        return "/namespaces/" not in path or f"/namespaces/{namespace}/" in path

    async def _watch(self, path: str, version: str) -> str | None:
        """Apply watch events; return the version to resume from, or None when a relist is needed."""
        try:
            async for event in self.client.watch(path, version, labelSelector=self.selector):
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    return None  # 410 Gone: the version is too old
                version = obj.get("metadata", {}).get("resourceVersion", version)
                if kind == "DELETED":
                    meta = obj["metadata"]
                    self.bury(meta["namespace"], meta["name"], meta.get("resourceVersion", "0"))
                elif kind in ("ADDED", "MODIFIED"):
                    self.upsert(obj)
        except ApiError as error:
            if error.status == 410:
                return None
            raise
        return version

    async def wait_synced(self, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.synced.wait(), timeout)
        return self.synced.is_set()


def _newer(obj: dict[str, Any] | None, listed: str) -> bool:
    """Whether `obj` was written after the listing's snapshot: an object the operator created while the
    list was on its way, which the list cannot hold (dropping it would make the next pass create it
    again). The watch from the listing's version reports it if it goes. resourceVersions are etcd
    revisions; one that is not a number counts as old."""
    try:
        return obj is not None and int(obj["metadata"]["resourceVersion"]) > int(listed)
    except (KeyError, ValueError):
        return False
