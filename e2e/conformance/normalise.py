"""Normalising what an operator created, so that KubeRay's objects and raykopf's can be compared field
by field: what the apiserver or chance decides (uids, resourceVersions, timestamps, IPs, node ports,
random name suffixes, the namespace each operator owns) is replaced by a placeholder, and lists of
named items (and conditions) become maps keyed by name (type), with their order kept as a field of its own.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

# Set by the apiserver, the scheduler or the kubelet, never by an operator.
DROPPED_METADATA = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "selfLink", "generation")
IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")
# The ServiceAccount admission plugin's projected token volume.
TOKEN_VOLUME = re.compile(r"\bkube-api-access-[a-z0-9]{5}\b")
TIME_KEYS = re.compile(r"(?:Time|Timestamp|LastUpdateTime|Deadline|At)$")
ORDER = "#order"


class Normaliser:
    """One operator's side of a case: its namespace and the generated names to replace."""

    def __init__(self, namespace: str, generated: Mapping[str, str] | None = None) -> None:
        self.namespace = namespace
        # literal generated name -> its placeholder, longest first so that a name never eats a longer one
        self.generated = dict(sorted((generated or {}).items(), key=lambda item: -len(item[0])))

    def add_generated(self, literal: str, placeholder: str) -> None:
        self.generated[literal] = placeholder
        self.generated = dict(sorted(self.generated.items(), key=lambda item: -len(item[0])))

    def text(self, value: str) -> str:
        for literal, placeholder in self.generated.items():
            value = value.replace(literal, placeholder)
        value = re.sub(rf"(?<![a-z0-9-]){re.escape(self.namespace)}(?![a-z0-9-])", "<namespace>", value)
        value = TOKEN_VOLUME.sub("kube-api-access-<random>", value)
        value = TIMESTAMP.sub("<time>", value)
        return IPV4.sub("<ip>", value)

    def value(self, value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return self.mapping(value)
        if isinstance(value, list):
            return self.sequence(value, key)
        if isinstance(value, str):
            if TIME_KEYS.search(key) and value:
                return "<time>"
            return self.text(value)
        if key == "nodePort" and isinstance(value, int):
            return "<nodePort>"
        return value

    def mapping(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return {self.text(key): self.value(item, key) for key, item in body.items()}

    def sequence(self, items: list[Any], key: str) -> Any:
        field = "type" if key == "conditions" else "name"  # a condition's identity is its type
        names = [item.get(field) if isinstance(item, dict) else None for item in items]
        if items and all(isinstance(name, str) for name in names) and len(set(names)) == len(names):
            keyed: dict[str, Any] = {
                self.text(str(name)): self.value(item) for name, item in zip(names, items, strict=True)
            }
            # Service ports come out of a map in KubeRay: their order is random, so it is not compared.
            if key != "ports":
                keyed[ORDER] = [self.text(str(name)) for name in names]
            return keyed
        return [self.value(item) for item in items]

    def object(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """A whole object: server-set metadata dropped, owner references without uids, no Pod status."""
        body = dict(body)
        metadata = {k: v for k, v in body.get("metadata", {}).items() if k not in DROPPED_METADATA}
        if "ownerReferences" in metadata:
            metadata["ownerReferences"] = [
                {k: v for k, v in owner.items() if k != "uid"} for owner in metadata["ownerReferences"]
            ]
        body["metadata"] = metadata
        if body.get("kind") in ("Pod", "Service", "Job"):
            body.pop("status", None)  # the node, the proxy and the Job controller's, not the operator's
        if body.get("kind") == "Secret" and isinstance(body.get("data"), dict):
            body["data"] = {key: _random_token(value) for key, value in body["data"].items()}
        if body.get("kind") == "Pod":
            spec = dict(body.get("spec", {}))
            spec.pop("nodeName", None)
            body["spec"] = spec
        return self.mapping(body)


def _random_token(value: str) -> str:
    """A generated token is chance; its form is not: `<random: N base64 bytes>`."""
    try:
        token = base64.b64decode(value, validate=True)
        raw = base64.b64decode(token, validate=True)
    except (ValueError, TypeError):
        return value
    return f"<random: {len(raw)} base64 bytes>"


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """`{"/a/b~1c/0": leaf}`: each leaf under its JSON-pointer path (RFC 6901 escapes)."""
    leaves: dict[str, Any] = {}
    if isinstance(tree, dict) and tree:
        for key, item in tree.items():
            leaves.update(flatten(item, f"{prefix}/{escape(str(key))}"))
    elif isinstance(tree, list) and tree:
        for index, item in enumerate(tree):
            leaves.update(flatten(item, f"{prefix}/{index}"))
    else:
        leaves[prefix] = tree
    return leaves


def escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def diff(kuberay: Any, raykopf: Any) -> tuple[int, list[tuple[str, Any, Any]]]:
    """(fields compared, [(path, KubeRay's value, raykopf's value)]); a missing field is `<absent>`."""
    left, right = flatten(kuberay), flatten(raykopf)
    paths = sorted(set(left) | set(right))
    found = [
        (path, left.get(path, "<absent>"), right.get(path, "<absent>"))
        for path in paths
        if left.get(path, "<absent>") != right.get(path, "<absent>")
    ]
    return len(paths), found


def pair(kuberay: Iterable[dict[str, Any]], raykopf: Iterable[dict[str, Any]], key: Any) -> list[Any]:
    """Pairs of objects with the same key (`None` for a side that has no such object); objects with
    equal keys (Pods of one group) are paired in a stable order."""

    def grouped(objects: Iterable[dict[str, Any]]) -> dict[Any, list[dict[str, Any]]]:
        groups: dict[Any, list[dict[str, Any]]] = {}
        for body in objects:
            groups.setdefault(key(body), []).append(body)
        for bodies in groups.values():
            bodies.sort(key=lambda body: json.dumps(body, sort_keys=True))
        return groups

    left, right = grouped(kuberay), grouped(raykopf)
    pairs = []
    for group in sorted(set(left) | set(right), key=str):
        a, b = left.get(group, []), right.get(group, [])
        for index in range(max(len(a), len(b))):
            pairs.append((group, a[index] if index < len(a) else None, b[index] if index < len(b) else None))
    return pairs
