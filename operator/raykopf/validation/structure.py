"""Structural checks: the manifest parses into the API models, every core-type subtree matches the
Kubernetes schema, and fields that neither know are reported (the apiserver would drop them)."""

from __future__ import annotations

import inspect
import types
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from raykopf.api.base import ApiModel, K8sType
from raykopf.validation.core_types import check_core_type, json_type
from raykopf.validation.problems import Problem, Severity, brief, join, join_all

M = TypeVar("M", bound=ApiModel)
UNKNOWN_FIELD = "unknown field; the apiserver drops it, so it has no effect"


# Far deeper than any real Pod template (about 20 levels), far shallower than what the apiserver
# accepts (10,000: Go's encoding/json). The rules and builders recurse; a deeper object is refused
# before they see it.
MAX_DEPTH = 100
_SHOWN_KEYS = 12  # of the path to the deep spot


def check_depth(manifest: Any, limit: int = MAX_DEPTH) -> list[Problem]:
    """One problem if `manifest` nests more than `limit` objects and arrays deep. Iterative, and
    linear in the object's size: it must not recurse itself, nor copy a path per node."""
    steps: list[tuple[str | int, int]] = []  # (key, index of the parent's step; -1 at the top)
    stack: list[tuple[Any, int, int]] = [(manifest, 0, -1)]  # (node, depth, its step)
    while stack:
        node, depth, step = stack.pop()
        if depth > limit:
            keys: list[str | int] = []
            while step >= 0:
                key, step = steps[step]
                keys.append(key)
            shown = join_all("", reversed(keys[-_SHOWN_KEYS:]))
            return [
                Problem(
                    shown,
                    f"nested more than {limit} objects and arrays deep (from here down); "
                    "a Kubernetes object needs far fewer",
                )
            ]
        children: Any = (
            node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        )
        for key, value in children:
            steps.append((key if isinstance(key, int) else str(key), step))
            stack.append((value, depth + 1, len(steps) - 1))
    return []


def check_null_items(manifest: Any) -> list[Problem]:
    """A null in a list (`ports: [null]`): Kubernetes reads it as an empty value (a port 0, a
    container without a name), never what was meant. Null fields of objects are fine (absent)."""
    problems: list[Problem] = []
    stack: list[tuple[Any, str]] = [(manifest, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            stack.extend((value, join(path, str(key))) for key, value in node.items())
        elif isinstance(node, list):
            for index, value in enumerate(node):
                if value is None:
                    problems.append(Problem(join(path, index), "a null list item: expected a value"))
                else:
                    stack.append((value, join(path, index)))
    return sorted(problems, key=lambda p: p.path)


def parse(model: type[M], manifest: dict[str, Any]) -> tuple[M | None, list[Problem]]:
    """Parse as the apiserver would (no type coercion), never raising.

    Returns one problem per type error. When strict parsing fails, the object is parsed again with
    coercion (`"2"` as 2) so that the spec rules can still report everything else that is wrong.
    """
    try:
        return model.model_validate(manifest, strict=True), []
    except ValidationError as error:
        problems = [
            Problem(join_all("", item["loc"]), _pydantic_message(item))
            for item in error.errors(include_url=False)
        ]
    try:
        return model.model_validate(manifest), problems
    except ValidationError:
        return None, problems


_EXPECTED = {
    "int_type": "integer",
    "int_parsing": "integer",
    "int_from_float": "integer",
    "float_type": "number",
    "float_parsing": "number",
    "bool_type": "boolean",
    "bool_parsing": "boolean",
    "string_type": "string",
    "dict_type": "object",
    "model_type": "object",
    "model_attributes_type": "object",
    "list_type": "array",
}


def _pydantic_message(item: Any) -> str:
    kind = item["type"]
    given = item.get("input")
    if kind == "missing":
        return "required field is missing"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {json_type(given)} {brief(given)}"
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = item["ctx"].get("ge", item["ctx"].get("le"))
        relation = "greater" if kind == "greater_than_equal" else "less"
        return f"must be {relation} than or equal to {bound}, got {brief(given)}"
    if kind == "literal_error":
        return f"must be one of {item['ctx']['expected']}, got {brief(given)}"
    return f"{item['msg']}, got {brief(given)}" if not isinstance(given, dict | list) else str(item["msg"])


def check_structure(model: type[BaseModel], manifest: dict[str, Any]) -> list[Problem]:
    """Core-type violations and unknown fields anywhere in `manifest`, read as a `model`."""
    problems: list[Problem] = []
    _walk(model, (), manifest, "", problems)
    return problems


def _walk(annotation: Any, metadata: tuple[Any, ...], value: Any, path: str, out: list[Problem]) -> None:
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *extra = get_args(annotation)
        _walk(base, (*metadata, *extra), value, path, out)
        return
    core = next((item for item in metadata if isinstance(item, K8sType)), None)
    if core is not None:
        out.extend(check_core_type(core.definition, value, path))
        return
    if origin in (Union, types.UnionType):
        options = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(options) == 1:
            _walk(options[0], metadata, value, path, out)
        return
    if origin is list and isinstance(value, list):
        (item_type,) = get_args(annotation)
        for index, item in enumerate(value):
            _walk(item_type, (), item, join(path, index), out)
        return
    if origin is dict and isinstance(value, dict):
        _, value_type = get_args(annotation)
        for key, item in value.items():
            _walk(value_type, (), item, join(path, str(key)), out)
        return
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel) and isinstance(value, dict):
        definition = getattr(annotation, "k8s_definition", None)
        if definition:
            out.extend(check_core_type(definition, value, path))
            return
        fields = {field.alias or name: field for name, field in annotation.model_fields.items()}
        for key, item in value.items():
            field = fields.get(key)
            if field is None:
                out.append(Problem(join(path, key), UNKNOWN_FIELD, Severity.WARNING))
            else:
                _walk(field.annotation, tuple(field.metadata), item, join(path, key), out)
