"""Pydantic model -> structural OpenAPI v3 schema that a kube-apiserver accepts.

The apiserver rejects `$ref`, `additionalProperties` beside `properties`, `uniqueItems`, nodes
without `type` (except int-or-string and preserve-unknown-fields nodes) and, before 1.21,
`default: ""` on strings. `structural()` rewrites pydantic's output into that dialect and
`lint_structural()` proves it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

# Keys that say nothing to the apiserver or that it refuses.
_DROPPED_KEYS = {"title", "$defs", "examples", "uniqueItems", "const"}


class K8sJsonSchema(GenerateJsonSchema):
    """Optional[X] means "absent", never null; no titles; no `default: null`."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        out = super().default_schema(schema)
        if out.get("default", ...) is None:
            out.pop("default")
        return out


def structural(model: type[BaseModel]) -> dict[str, Any]:
    """The structural schema of `model`, with every `$ref` inlined and keys sorted."""
    raw = model.model_json_schema(by_alias=True, schema_generator=K8sJsonSchema, mode="validation")
    defs = raw.pop("$defs", {})
    schema: dict[str, Any] = _rewrite(_inline(raw, defs))
    return schema


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return _inline({**target, **siblings}, defs)
    # A single-member allOf is how pydantic attaches a description or default to a $ref.
    if list(node.get("allOf", [])) and len(node["allOf"]) == 1:
        merged = {**node["allOf"][0], **{k: v for k, v in node.items() if k != "allOf"}}
        return _inline(merged, defs)
    return {key: _inline(value, defs) for key, value in node.items()}


def _rewrite(node: Any) -> Any:
    if isinstance(node, list):
        return [_rewrite(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS:
            continue
        if key == "properties":
            out[key] = {name: _rewrite(child) for name, child in value.items()}
        elif key == "additionalProperties":
            # `extra="allow"` emits `true`; beside `properties` the apiserver forbids it, and unknown
            # fields are pruned anyway. A typed map (`dict[str, X]`) keeps its value schema.
            if isinstance(value, dict) and "properties" not in node:
                out[key] = _rewrite(value)
        else:
            out[key] = _rewrite(value)
    if "const" in node:
        out["enum"] = [node["const"]]
    if out.get("default") == "":
        out.pop("default")
    if "properties" in out or "additionalProperties" in out:
        out.setdefault("type", "object")
    return {key: out[key] for key in sorted(out)}


def lint_structural(schema: dict[str, Any], path: str = "") -> list[str]:
    """Every construct in `schema` that a kube-apiserver (v1.20 and later) would reject."""
    problems: list[str] = []
    where = path or "<root>"
    for key in ("$ref", "$defs", "uniqueItems", "const", "title", "nullable"):
        if key in schema:
            problems.append(f"{where}: `{key}` is not allowed")
    if "properties" in schema and "additionalProperties" in schema:
        problems.append(f"{where}: `additionalProperties` beside `properties`")
    if schema.get("default") == "":
        problems.append(f'{where}: `default: ""` is rejected by older apiservers')
    open_node = schema.get("x-kubernetes-preserve-unknown-fields") or schema.get("x-kubernetes-int-or-string")
    if "type" not in schema and not open_node:
        problems.append(f"{where}: no `type`")
    for keyword in ("anyOf", "oneOf", "allOf"):
        if keyword in schema and not schema.get("x-kubernetes-int-or-string"):
            problems.append(f"{where}: `{keyword}` outside an int-or-string node")
    if schema.get("x-kubernetes-list-type") == "map":
        item = schema.get("items", {})
        for map_key in schema.get("x-kubernetes-list-map-keys", []):
            if map_key not in item.get("required", []) and "default" not in item.get("properties", {}).get(
                map_key, {}
            ):
                problems.append(f"{where}: list-map key `{map_key}` is neither required nor defaulted")
    for name, child in schema.get("properties", {}).items():
        problems += lint_structural(child, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        problems += lint_structural(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        problems += lint_structural(schema["additionalProperties"], f"{path}{{}}")
    return problems
