"""Schema parity with KubeRay v1.7.0: every upstream spec/status property path outside the open
Kubernetes core types exists in raykopf's CRD with the same type, enum values, default and CEL rules
(`x-kubernetes-validations`, messages included)."""

from __future__ import annotations

from typing import Any

import pytest

from raykopf.crdgen import render
from tests.compat import upstream
from tests.compat.differences import FIELD_DIFFERENCES, OPEN_CORE_TYPES

PLURALS = {"RayCluster": "rayclusters", "RayJob": "rayjobs", "RayService": "rayservices"}


def _children(node: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    out = [(f"{path}.{name}", child) for name, child in node.get("properties", {}).items()]
    if isinstance(node.get("items"), dict):
        out.append((f"{path}[]", node["items"]))
    if isinstance(node.get("additionalProperties"), dict):
        out.append((f"{path}{{}}", node["additionalProperties"]))
    return out


def _is_open(path: str) -> bool:
    return any(path.endswith(f".{suffix}") for suffix in OPEN_CORE_TYPES)


def compare(theirs: dict[str, Any], ours: dict[str, Any] | None, path: str) -> list[str]:
    if ours is None:
        return [f"{path}: missing"]
    if path in FIELD_DIFFERENCES:
        return []
    problems = []
    if _is_open(path):
        expected_type = theirs.get("type")
        if ours.get("type") != expected_type:
            problems.append(f"{path}: type {ours.get('type')!r}, upstream {expected_type!r}")
        open_node = ours.get("items", ours) if expected_type == "array" else ours
        if not open_node.get("x-kubernetes-preserve-unknown-fields"):
            problems.append(f"{path}: expected an open Kubernetes core-type object")
        return problems
    for key in (
        "type",
        "enum",
        "default",
        "x-kubernetes-int-or-string",
        "format",
        "x-kubernetes-validations",
    ):
        if theirs.get(key) != ours.get(key):
            problems.append(f"{path}: {key} is {ours.get(key)!r}, upstream {theirs.get(key)!r}")
    ours_children = dict(_children(ours, path))
    for child_path, child in _children(theirs, path):
        problems += compare(child, ours_children.get(child_path), child_path)
    return problems


def _v1_schema(crd: dict[str, Any]) -> dict[str, Any]:
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


@pytest.mark.parametrize("kind", list(PLURALS))
def test_every_upstream_field_exists_with_the_same_type_enum_and_default(kind: str) -> None:
    theirs = _v1_schema(upstream.upstream_crd(PLURALS[kind]))
    ours = _v1_schema(render(kind))
    problems = []
    for section in ("spec", "status"):
        problems += compare(theirs["properties"][section], ours["properties"][section], section)
    assert problems == []


@pytest.mark.parametrize("kind", list(PLURALS))
def test_names_versions_and_printer_columns_match_upstream(kind: str) -> None:
    theirs = upstream.upstream_crd(PLURALS[kind])
    ours = render(kind)
    assert ours["spec"]["names"] == theirs["spec"]["names"]
    assert ours["spec"]["scope"] == theirs["spec"]["scope"]

    def summary(crd: dict[str, Any]) -> list[tuple[str, bool, bool, bool, dict[str, Any]]]:
        return [
            (v["name"], v["served"], v["storage"], v.get("deprecated", False), v["subresources"])
            for v in crd["spec"]["versions"]
        ]

    assert summary(ours) == summary(theirs)
    v1 = next(v for v in ours["spec"]["versions"] if v["name"] == "v1")
    upstream_v1 = next(v for v in theirs["spec"]["versions"] if v["name"] == "v1")
    assert v1["additionalPrinterColumns"] == upstream_v1["additionalPrinterColumns"]


@pytest.mark.parametrize("kind", list(PLURALS))
def test_every_upstream_cel_rule_is_in_the_crd_and_none_other(kind: str) -> None:
    def rules(schema: dict[str, Any], path: str = "") -> list[tuple[str, str, str]]:
        found = [(path, r["rule"], r["message"]) for r in schema.get("x-kubernetes-validations") or []]
        for child_path, child in _children(schema, path):
            found += rules(child, child_path)
        return found

    theirs = rules(_v1_schema(upstream.upstream_crd(PLURALS[kind])))
    assert theirs  # every kind has some in KubeRay v1.7
    assert sorted(rules(_v1_schema(render(kind)))) == sorted(theirs)


def test_the_comparison_reports_missing_fields_and_changed_defaults() -> None:
    theirs = {
        "type": "object",
        "properties": {"a": {"type": "integer", "default": 1}, "b": {"type": "string"}},
    }
    ours = {"type": "object", "properties": {"a": {"type": "integer", "default": 2}}}
    assert compare(theirs, ours, "spec") == ["spec.a: default is 2, upstream 1", "spec.b: missing"]
