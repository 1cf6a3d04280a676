"""Hypothesis strategies from an OpenAPI v3 structural schema (a CRD's): values of the declared types,
within declared bounds and enums, with required properties and a few of the optional ones, so that
what is generated is what an apiserver with that CRD could store (CEL rules aside)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

MAX_DEPTH = 14  # below this, objects get only their required properties
OPTIONAL_PER_OBJECT = 3  # a pod template has hundreds of optional fields: draw a few of each

INT_BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
WORDS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["", "x" * 300, "ü" * 70, "$(id)", "; rm -rf /", "../..", "1e3", "-1", "a: &a [1]\nb: *a"]
    ),
)
ANY_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), WORDS),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def at(schema: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any] | None:
    """The schema of the value at `path` (keys and list indexes), None where it declares nothing."""
    node: dict[str, Any] | None = schema
    for key in path:
        if node is None:
            return None
        if isinstance(key, int):
            node = node.get("items")
        elif key in (node.get("properties") or {}):
            node = node["properties"][key]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return None
    return node


def values(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values that `schema` admits."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if schema.get("x-kubernetes-int-or-string"):
        return st.one_of(st.integers(-(2**31), 2**31 - 1), WORDS)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return _objects(schema, depth)
    if kind == "array":
        return st.lists(values(schema.get("items") or {}, depth + 1), max_size=2 if depth < MAX_DEPTH else 0)
    if kind == "string":
        return WORDS if "format" not in schema else st.one_of(WORDS, st.just("2026-01-01T00:00:00Z"))
    if kind == "integer":
        low, high = INT_BOUNDS.get(schema.get("format", ""), INT_BOUNDS["int64"])
        low = max(low, int(schema.get("minimum", low)))
        high = min(high, int(schema.get("maximum", high)))
        return st.one_of(st.integers(low, high), st.sampled_from([low, high]))
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    return ANY_JSON  # x-kubernetes-preserve-unknown-fields, or no type at all


def _objects(schema: dict[str, Any], depth: int) -> st.SearchStrategy[dict[str, Any]]:
    properties: dict[str, Any] = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    if not properties:
        if isinstance(additional, dict):
            return st.dictionaries(
                st.text(min_size=1, max_size=10), values(additional, depth + 1), max_size=3
            )
        return st.dictionaries(st.text(max_size=8), ANY_JSON, max_size=3)
    required = [key for key in schema.get("required") or [] if key in properties]
    optional = sorted(set(properties) - set(required))

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        chosen = list(required)
        if optional and depth < MAX_DEPTH:
            count = draw(st.integers(0, min(OPTIONAL_PER_OBJECT, len(optional))))
            chosen += draw(st.lists(st.sampled_from(optional), min_size=count, max_size=count, unique=True))
        return {key: draw(values(properties[key], depth + 1)) for key in chosen}

    return build()
