"""LatestStore: newer versions win, and a namespace's names are found without a full scan."""

from __future__ import annotations

from raykopf.k8s.store import LatestStore


def obj(namespace: str, name: str, version: str) -> dict[str, object]:
    return {"metadata": {"namespace": namespace, "name": name, "resourceVersion": version}}


def test_an_older_version_never_replaces_a_newer_one() -> None:
    store = LatestStore()
    assert store.put(obj("a", "x", "5"))
    assert not store.put(obj("a", "x", "4"))
    assert store.get("a", "x") == obj("a", "x", "5")


def test_names_in_a_namespace_follow_puts_and_pops() -> None:
    store = LatestStore()
    for namespace, name in (("a", "y"), ("a", "x"), ("b", "x")):
        store.put(obj(namespace, name, "1"))
    assert store.names_in("a") == ["x", "y"]
    store.pop("a", "y")
    assert store.names_in("a") == ["x"]
    assert store.names_in("c") == []
