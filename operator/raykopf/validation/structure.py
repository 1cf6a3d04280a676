"""Structural checks: the manifest parses into the API models, every core-type subtree matches the
Kubernetes schema, and fields that neither know are reported (the apiserver would drop them)."""

from __future__ import annotations

import inspect
import types
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from raykopf.api.base import ApiModel, K8sType
from raykopf.validation.core_types import check_core_type
from raykopf.validation.problems import Problem, Severity, join, join_all

M = TypeVar("M", bound=ApiModel)
UNKNOWN_FIELD = "unknown field; the apiserver drops it, so it has no effect"


def parse(model: type[M], manifest: dict[str, Any]) -> tuple[M | None, list[Problem]]:
    """The parsed object, or None and one problem per pydantic error (never an exception)."""
    try:
        return model.model_validate(manifest, strict=True), []
    except ValidationError as error:
        problems = [
            Problem(join_all("", item["loc"]), _pydantic_message(item))
            for item in error.errors(include_url=False)
        ]
        return None, problems


def _pydantic_message(item: Any) -> str:
    if item["type"] == "missing":
        return "required field is missing"
    given = item.get("input")
    return f"{item['msg']}, got {given!r}" if not isinstance(given, dict | list) else str(item["msg"])


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
