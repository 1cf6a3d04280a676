"""Kubernetes core types (pod templates, Services, env vars, ...) checked against Kubernetes' own
OpenAPI schema, in its strict form (unknown fields are errors), as shipped by kubernetes-validate."""

from __future__ import annotations

import collections
import difflib
import functools
import json
from importlib import resources
from typing import Any

import jsonschema
import orjson
import referencing
import referencing.jsonschema

from raykopf.validation.problems import Problem, brief, join_all

# The newest Kubernetes schema kubernetes-validate ships: it accepts every field a current cluster
# accepts, so a manifest is only rejected for fields that no Kubernetes version knows.
KUBERNETES_SCHEMA_VERSION = "1.37.0"
_DEFINITIONS_ID = "https://kubernetes.io/api/_definitions.json"


@functools.cache
def _registry() -> referencing.Registry[Any]:
    folder = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    path = folder / f"v{KUBERNETES_SCHEMA_VERSION}-local-strict" / "_definitions.json"
    contents = json.loads(path.read_text())
    resource = referencing.Resource.from_contents(
        contents, default_specification=referencing.jsonschema.DRAFT202012
    )
    return resource @ referencing.Registry()


@functools.cache
def _validator(definition: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"{_DEFINITIONS_ID}#/$defs/{definition}"}
    return jsonschema.Draft202012Validator(schema, registry=_registry())


def short_name(definition: str) -> str:
    return definition.rsplit(".", 1)[-1]


# Results of the schema check by content: a thousand RayClusters made from one template carry the same
# pod templates, and checking those against Kubernetes' schema is three quarters of a validation.
CACHE_SIZE = 512
_checked: collections.OrderedDict[tuple[str, str, bytes], tuple[Problem, ...]] = collections.OrderedDict()


def check_core_type(definition: str, value: Any, path: str) -> list[Problem]:
    """Every schema violation of `value` as a Kubernetes `definition`, each with its field path."""
    try:
        key = (definition, path, orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
    except TypeError:  # not JSON (a YAML date, a huge integer): checked every time
        return _check(definition, value, path)
    found = _checked.get(key)
    if found is None:
        found = _checked[key] = tuple(_check(definition, value, path))
        if len(_checked) > CACHE_SIZE:
            _checked.popitem(last=False)
    else:
        _checked.move_to_end(key)
    return list(found)


def _check(definition: str, value: Any, path: str) -> list[Problem]:
    problems: list[Problem] = []
    errors = sorted(_validator(definition).iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
    for error in errors:
        problems += _explain(error, path, definition)
    return problems


def _explain(error: jsonschema.ValidationError, base: str, definition: str) -> list[Problem]:
    where = join_all(base, error.absolute_path)
    instance = error.instance
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        schema = error.schema if isinstance(error.schema, dict) else {}
        known = set(schema.get("properties", {}))
        return [
            Problem(join_all(where, [key]), f"unknown field {key!r}{_did_you_mean(key, known)}")
            for key in instance
            if key not in known
        ]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return [Problem(join_all(where, [missing]), "required field is missing")]
    if error.validator == "type":
        expected = error.validator_value
        expected_names = [
            str(t) for t in (expected if isinstance(expected, list) else [expected]) if t != "null"
        ]
        return [
            Problem(
                where, f"expected {' or '.join(expected_names)}, got {json_type(instance)} {brief(instance)}"
            )
        ]
    if error.validator == "oneOf" and isinstance(error.validator_value, list):
        kinds = sorted({t for option in error.validator_value for t in _types_of(option)})
        return [Problem(where, f"expected {' or '.join(kinds)}, got {json_type(instance)} {brief(instance)}")]
    if error.validator == "enum":
        return [Problem(where, f"must be one of {error.validator_value}, got {brief(instance)}")]
    return [Problem(where, f"{error.message} (in {short_name(definition)})")]


def _types_of(option: dict[str, Any]) -> list[str]:
    declared = option.get("type", [])
    return [t for t in (declared if isinstance(declared, list) else [declared]) if t != "null"]


def json_type(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _did_you_mean(key: str, known: set[str]) -> str:
    lowered = {name.lower(): name for name in known}
    if key.lower() in lowered:
        return f" (did you mean {lowered[key.lower()]!r}?)"
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.8)
    return f" (did you mean {close[0]!r}?)" if close else ""
