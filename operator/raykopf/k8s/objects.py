"""API paths of the objects the operator reads and writes."""

from __future__ import annotations

from typing import Any

_COLLECTIONS = {
    "Pod": "/api/v1/namespaces/{ns}/pods",
    "Service": "/api/v1/namespaces/{ns}/services",
    "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
    "Secret": "/api/v1/namespaces/{ns}/secrets",
    "Event": "/api/v1/namespaces/{ns}/events",
    "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
    "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
    "Ingress": "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
    "Job": "/apis/batch/v1/namespaces/{ns}/jobs",
    "RayCluster": "/apis/ray.io/v1/namespaces/{ns}/rayclusters",
    "RayJob": "/apis/ray.io/v1/namespaces/{ns}/rayjobs",
    "RayService": "/apis/ray.io/v1/namespaces/{ns}/rayservices",
}


def collection(kind: str, namespace: str) -> str:
    return _COLLECTIONS[kind].format(ns=namespace)


def item(kind: str, namespace: str, name: str) -> str:
    return f"{collection(kind, namespace)}/{name}"


def path_of(body: dict[str, Any]) -> str:
    return collection(body["kind"], body["metadata"]["namespace"])


def merge_patch(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch (RFC 7386) that writes all of `after` over `before`: every key `before` has
    and `after` lacks, at any depth, is set to null, so the merge keeps nothing the new value left
    out (lists are replaced whole)."""
    patch: dict[str, Any] = {key: None for key in before if key not in after}
    for key, value in after.items():
        old = before.get(key)
        patch[key] = merge_patch(old, value) if isinstance(value, dict) and isinstance(old, dict) else value
    return patch


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The smallest JSON merge patch that turns `before` into `after` (empty: they are equal). A key
    neither names is left alone, so a field written meanwhile by someone else survives."""
    patch: dict[str, Any] = {key: None for key in before if key not in after}
    for key, value in after.items():
        old = before.get(key, _ABSENT)
        if old == value:
            continue
        if isinstance(value, dict) and isinstance(old, dict):
            nested = changes(old, value)
            if nested:
                patch[key] = nested
        else:
            patch[key] = value
    return patch


_ABSENT = object()
