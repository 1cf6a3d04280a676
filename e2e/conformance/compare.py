"""What each operator made of one case, side by side: every object it created for the case (found
through owner references), the root object's status and metadata, and its Event reasons; diffed after
normalisation, and each difference matched against the declared ones."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from e2e.conformance.normalise import ORDER, Normaliser, diff, escape, pair

DECLARED = Path(__file__).with_name("differences.yaml")
# The kinds an operator creates; the root and the ray.io kinds a RayJob or RayService owns come too.
CREATED_KINDS = (
    "pods",
    "services",
    "jobs.batch",
    "ingresses.networking.k8s.io",
    "serviceaccounts",
    "roles.rbac.authorization.k8s.io",
    "rolebindings.rbac.authorization.k8s.io",
    "secrets",
    "rayclusters.ray.io",
    "rayjobs.ray.io",
    "rayservices.ray.io",
)
RANDOM_SUFFIX = re.compile(r"^(?P<base>.+-)[a-z0-9]{5}$")


@dataclass(frozen=True)
class Difference:
    case: str
    object: str  # "Pod ray-head <name>" etc.
    path: str
    kuberay: Any
    raykopf: Any

    def line(self) -> str:
        return f"{self.case}: {self.object} {self.path}: KubeRay {self.kuberay!r} / raykopf {self.raykopf!r}"


CATEGORIES = {
    # raykopf follows KubeRay v1.7.0 where the peer (v1.6.1, see raykopf_local/kuberay) differs.
    "peer-version",
    # raykopf differs on purpose; docs/differences.md says so under the entry's id.
    "deliberate",
    # not implemented in raykopf yet; docs/differences.md says so under the entry's id.
    "missing",
}


@dataclass(frozen=True)
class Declared:
    """One declared difference. It covers a difference by kind, path and values; or, before the
    diff, it removes an element that only one side has (`only_in`) or rewrites one side's value
    (`kuberay_rewrite` / `raykopf_rewrite: [regex, replacement]`), so that the rest of the object is
    still compared exactly. `path` may be a list of patterns.
    A `race` entry covers what one side does only when its timing goes one way: no run must show it."""

    id: str
    reason: str
    category: str
    kind: str = "*"
    path: str | tuple[str, ...] = "*"
    cases: tuple[str, ...] = ("*",)
    kuberay: Any = "*"
    raykopf: Any = "*"
    only_in: str | None = None
    kuberay_rewrite: tuple[str, str] | None = None
    raykopf_rewrite: tuple[str, str] | None = None
    race: bool = False

    def __post_init__(self) -> None:
        assert self.category in CATEGORIES, f"{self.id}: category must be one of {sorted(CATEGORIES)}"
        assert self.only_in in (None, "kuberay", "raykopf"), f"{self.id}: only_in is kuberay or raykopf"

    def applies(self, case: str, label: str) -> bool:
        return fnmatch.fnmatchcase(label.split(" ", 1)[0], self.kind) and any(
            fnmatch.fnmatchcase(case, pattern) for pattern in self.cases
        )

    def names(self, path: str) -> bool:
        patterns = (self.path,) if isinstance(self.path, str) else self.path
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)

    def rewrite(self, side_name: str) -> tuple[str, str] | None:
        return self.kuberay_rewrite if side_name == "kuberay" else self.raykopf_rewrite

    def covers(self, found: Difference) -> bool:
        return (
            self.only_in is None
            and self.kuberay_rewrite is None
            and self.raykopf_rewrite is None
            and self.applies(found.case, found.object)
            and self.names(found.path)
            and _value_matches(self.kuberay, found.kuberay)
            and _value_matches(self.raykopf, found.raykopf)
        )


def _value_matches(pattern: Any, value: Any) -> bool:
    if pattern == "*":
        return True
    if isinstance(pattern, list):  # any of these (or, if it equals the value, an empty list)
        return pattern == value or any(_value_matches(item, value) for item in pattern)
    if isinstance(pattern, str) and isinstance(value, str):
        return fnmatch.fnmatchcase(value, pattern)
    return bool(pattern == value)


def load_declared(path: Path = DECLARED) -> list[Declared]:
    entries = yaml.safe_load(path.read_text()) or []
    declared = []
    for entry in entries:
        cases = entry.pop("cases", ["*"])
        if isinstance(entry.get("path"), list):
            entry["path"] = tuple(entry["path"])
        for key in ("kuberay_rewrite", "raykopf_rewrite"):
            if entry.get(key):
                entry[key] = tuple(entry[key])
        declared.append(Declared(cases=tuple(cases), **entry))
    ids = [item.id for item in declared]
    assert len(ids) == len(set(ids)), f"{path}: ids repeat"
    return declared


@dataclass
class CaseResult:
    case: str
    objects: int = 0
    fields: int = 0
    differences: list[Difference] = field(default_factory=list)
    # differences taken out before the diff by a declared `only_in` or `kuberay_rewrite`
    adjusted: list[tuple[Difference, Declared]] = field(default_factory=list)


def _adjust(tree: Any, declared: Declared, side_name: str, path: str = "") -> list[tuple[str, Any, Any]]:
    """Apply one `only_in` or `kuberay_rewrite` entry to one side's normalised tree, in place;
    return (path, before, after) for each change."""
    changes: list[tuple[str, Any, Any]] = []
    if isinstance(tree, list):
        children: list[tuple[Any, str]] = [(index, f"{path}/{index}") for index in range(len(tree))]
    elif isinstance(tree, dict):
        children = [(key, f"{path}/{escape(str(key))}") for key in list(tree)]
    else:
        return changes
    rewrite = declared.rewrite(side_name)
    for key, here in children:
        named = declared.names(here)
        if isinstance(tree, dict) and declared.only_in == side_name and key != ORDER and named:
            changes.append((here, tree.pop(key), "<absent>"))
            if isinstance(tree.get(ORDER), list) and key in tree[ORDER]:
                tree[ORDER].remove(key)
            continue
        value = tree[key]
        if rewrite is not None and isinstance(value, str):
            rewritten = re.sub(rewrite[0], rewrite[1], value) if named else value
            if rewritten != value:
                tree[key] = rewritten
                changes.append((here, value, rewritten))
            continue
        changes += _adjust(value, declared, side_name, here)
    return changes


def owned_by(items: Iterable[dict[str, Any]], root: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects whose owner-reference chain reaches `root` (Pods of a Job excepted: the Job
    controller made those, not the operator)."""
    by_uid = {item["metadata"]["uid"]: item for item in items}
    root_uid = root["metadata"]["uid"]

    def reaches(item: dict[str, Any], depth: int = 0) -> bool:
        for owner in item["metadata"].get("ownerReferences") or []:
            if owner.get("uid") == root_uid:
                return True
            parent = by_uid.get(owner.get("uid"))
            if parent is not None and depth < 5 and reaches(parent, depth + 1):
                return True
        return False

    return [
        item
        for item in by_uid.values()
        if reaches(item)
        and not (
            item["kind"] == "Pod"
            and any(owner.get("kind") == "Job" for owner in item["metadata"].get("ownerReferences") or [])
        )
    ]


def normaliser_for(namespace: str, objects: Iterable[dict[str, Any]]) -> Normaliser:
    """Placeholders for the names chance gave: generated Pod names and a RayJob's or RayService's
    `<name>-<5 random>` RayClusters."""
    normaliser = Normaliser(namespace)
    for item in objects:
        metadata = item["metadata"]
        if metadata.get("uid"):
            # KubeRay's default `ray.io/external-storage-namespace` is the RayCluster's uid; a Job's
            # controller-uid labels are the Job's.
            normaliser.add_generated(metadata["uid"], f"<uid of {item['kind']}>")
        replica = (metadata.get("labels") or {}).get("ray.io/worker-group-replica-name", "")
        if match := RANDOM_SUFFIX.match(replica):
            normaliser.add_generated(replica, f"{match['base']}<random>")
        if metadata.get("generateName"):
            normaliser.add_generated(metadata["name"], f"{metadata['generateName']}<random>")
        elif (
            item["kind"] == "RayCluster"
            and (match := RANDOM_SUFFIX.match(metadata["name"]))
            and any(
                owner.get("kind") in ("RayJob", "RayService")
                for owner in metadata.get("ownerReferences") or []
            )
        ):
            normaliser.add_generated(metadata["name"], f"{match['base']}<random>")
        job_id = (item.get("status") or {}).get("jobId", "") if item["kind"] == "RayJob" else ""
        if match := RANDOM_SUFFIX.match(job_id):  # `<rayjob>-<5 random>` when spec.jobId is unset
            normaliser.add_generated(job_id, f"{match['base']}<random>")
    return normaliser


def object_key(body: dict[str, Any]) -> str:
    labels = body["metadata"].get("labels") or {}
    if body["kind"] == "Pod":
        role = labels.get("ray.io/node-type", "?")
        return f"Pod {role} {labels.get('ray.io/group', '?')} {body['metadata']['name']}"
    return f"{body['kind']} {body['metadata']['name']}"


def root_view(body: dict[str, Any]) -> dict[str, Any]:
    """What an operator may change on the object the user applied: its status, finalizers, labels and
    annotations (the spec is the user's, and `kubectl.kubernetes.io/last-applied-configuration` too)."""
    metadata = body["metadata"]
    annotations = {
        key: value
        for key, value in (metadata.get("annotations") or {}).items()
        if key != "kubectl.kubernetes.io/last-applied-configuration"
    }
    status = dict(body.get("status") or {})
    if isinstance(status.get("endpoints"), dict):  # node ports the apiserver chose
        status["endpoints"] = {
            name: "<nodePort>" if str(port).isdigit() and 30000 <= int(port) <= 32767 else port
            for name, port in status["endpoints"].items()
        }
    return {
        "kind": body["kind"],
        "metadata": {
            "name": metadata["name"],
            "labels": metadata.get("labels") or {},
            "annotations": annotations,
            "finalizers": metadata.get("finalizers") or [],
        },
        "status": status,
    }


def event_view(events: Iterable[dict[str, Any]], objects: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The Event reasons posted about the case's ray.io objects: {kind: {reason: type}}. By uid: an
    earlier object of the same name (an earlier test's) leaves its Events behind."""
    uids = {item["metadata"]["uid"]: item["kind"] for item in objects if item["kind"].startswith("Ray")}
    reasons: dict[str, dict[str, str]] = {}
    for event in events:
        regarding = event.get("involvedObject") or event.get("regarding") or {}
        if uids.get(regarding.get("uid", "")) == regarding.get("kind"):
            reasons.setdefault(regarding["kind"], {})[event.get("reason", "")] = event.get("type", "")
    return reasons


def side(
    namespace: str,
    root_name: str,
    root_kind: str,
    listing: list[dict[str, Any]],
    events: list[dict[str, Any]],
) -> tuple[Normaliser, dict[str, Any], list[dict[str, Any]], dict[str, Any]] | None:
    root = next(
        (item for item in listing if item["kind"] == root_kind and item["metadata"]["name"] == root_name),
        None,
    )
    if root is None:
        return None
    created = owned_by(listing, root)
    normaliser = normaliser_for(namespace, [root, *created])
    return normaliser, root, created, event_view(events, [root, *created])


def compare_case(
    case: str,
    kuberay: tuple[Normaliser, dict[str, Any], list[dict[str, Any]], dict[str, Any]],
    raykopf: tuple[Normaliser, dict[str, Any], list[dict[str, Any]], dict[str, Any]],
    declared: Iterable[Declared] = (),
) -> CaseResult:
    result = CaseResult(case)
    (kn, kroot, kcreated, kevents), (rn, rroot, rcreated, revents) = kuberay, raykopf
    adjusting = [item for item in declared if item.only_in or item.kuberay_rewrite or item.raykopf_rewrite]

    def record(label: str, left: Any, right: Any) -> None:
        result.objects += 1
        for item in adjusting:
            if not item.applies(case, label):
                continue
            for side_name, tree in (("kuberay", left), ("raykopf", right)):
                for path, before, after in _adjust(tree, item, side_name):
                    found = (
                        Difference(case, label, path, before, after)
                        if side_name == "kuberay"
                        else Difference(case, label, path, "<absent>", before)
                    )
                    result.adjusted.append((found, item))
        fields, found = diff(left, right)
        result.fields += fields
        result.differences.extend(Difference(case, label, path, a, b) for path, a, b in found)

    record(f"{kroot['kind']} (root)", kn.mapping(root_view(kroot)), rn.mapping(root_view(rroot)))
    left = [kn.object(item) for item in kcreated]
    right = [rn.object(item) for item in rcreated]
    for key, a, b in pair(left, right, object_key):
        if a is None or b is None:
            result.objects += 1
            result.differences.append(
                Difference(case, key, "", "<present>" if a else "<absent>", "<present>" if b else "<absent>")
            )
        else:
            record(key, a, b)
    record("Events", kevents, revents)
    return result


def classify(
    results: Iterable[CaseResult], declared: list[Declared]
) -> tuple[list[tuple[Difference, Declared]], list[Difference]]:
    covered: list[tuple[Difference, Declared]] = []
    undeclared: list[Difference] = []
    for result in results:
        covered += result.adjusted
        for found in result.differences:
            match = next((item for item in declared if item.covers(found)), None)
            if match is None:
                undeclared.append(found)
            else:
                covered.append((found, match))
    return covered, undeclared
