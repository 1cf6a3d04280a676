"""The latest known version of objects, by (namespace, name): a newer resourceVersion always wins, so
a late event can never roll an object back past what the operator itself wrote."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from raykopf.k8s.client import KubeClient
from raykopf.k8s.objects import item

Key = tuple[str, str]


def version_number(version: str | None) -> int:
    try:
        return int(version or "0")
    except ValueError:  # opaque by contract; every apiserver backed by etcd3 uses integers
        return 0


def resource_version(obj: dict[str, Any]) -> int:
    return version_number(obj.get("metadata", {}).get("resourceVersion"))


class LatestStore:
    def __init__(self) -> None:
        self._objects: dict[Key, dict[str, Any]] = {}
        self._stored_at: dict[Key, float] = {}
        self._names: dict[str, set[str]] = {}  # namespace -> names, so one namespace is no full scan

    def put(self, obj: dict[str, Any]) -> bool:
        """Keep `obj` unless a newer version is held; return whether it was kept."""
        meta = obj["metadata"]
        key = (meta["namespace"], meta["name"])
        current = self._objects.get(key)
        if current is not None and resource_version(current) > resource_version(obj):
            return False
        self._objects[key] = obj
        self._stored_at[key] = time.monotonic()
        self._names.setdefault(key[0], set()).add(key[1])
        return True

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._objects.get((namespace, name))

    def upsert(self, obj: dict[str, Any]) -> None:
        """As `put` (the executor's cache interface)."""
        self.put(obj)

    def remove(self, namespace: str, name: str) -> None:
        self.pop(namespace, name)

    def fresh(self, namespace: str, name: str, max_age: float) -> dict[str, Any] | None:
        """The object if it was stored less than `max_age` seconds ago: a watch can miss a deletion
        (kopf's re-list reports none), so an old entry is re-read rather than trusted forever."""
        stored = self._stored_at.get((namespace, name))
        if stored is None or time.monotonic() - stored > max_age:
            return None
        return self._objects.get((namespace, name))

    def pop(self, namespace: str, name: str) -> dict[str, Any] | None:
        self._stored_at.pop((namespace, name), None)
        self._names.get(namespace, set()).discard(name)
        return self._objects.pop((namespace, name), None)

    def names_in(self, namespace: str) -> list[str]:
        return sorted(self._names.get(namespace, ()))

    def __iter__(self) -> Iterator[Key]:
        return iter(list(self._objects))

    def __len__(self) -> int:
        return len(self._objects)


async def current(
    store: LatestStore, client: KubeClient, kind: str, namespace: str, name: str, max_age: float
) -> dict[str, Any] | None:
    """The object from `store` if seen within `max_age` seconds, else read again (None: it is gone)."""
    raw = store.fresh(namespace, name, max_age)
    if raw is None:
        raw = await client.get(item(kind, namespace, name))
        if raw is None:
            store.pop(namespace, name)
        else:
            store.put(raw)
    return raw
