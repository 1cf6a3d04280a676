"""YAML read as KubeRay reads `runtimeEnvYAML` and `serveConfigV2` (sigs.k8s.io/yaml: go-yaml v2 into
Go values, then JSON), and safe to read from any tenant: a document that would expand through its
aliases, nest too deep, or hold what JSON cannot carry raises `YamlError` with a clear message
instead of exhausting memory or raising something else later in a builder.

- Aliases: go-yaml v2's own limit ("document contains excessive aliasing": more than 100 nodes
  decoded through aliases, more than 1,000 in all, and a share of them through aliases above 99%,
  falling to 10% between 400,000 and 4,000,000 decoded nodes), counted from the event stream before
  anything is built, so a billion-laughs document costs a few thousand steps.
- Depth: at most MAX_DEPTH collections deep, aliases expanded (the parser's composer recurses).
- Values as go-yaml v2 gives them to JSON: timestamps stay the text written, `!!binary` is its
  decoded bytes as text, `!!set` is a mapping to null, `!!omap`/`!!pairs` are lists of one-entry
  mappings; integers beyond 64 bits are floats; map keys become strings (`1`, `true`, `1.2`,
  `1e+36`); a null key, NaN and infinities are errors.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from typing import Any

import yaml

MAX_DEPTH = 100
_RATIO_LOW, _RATIO_HIGH = 400_000, 4_000_000


# libyaml's parser where PyPI's wheel has it (about 10 times faster), else PyYAML's own.
_BASE: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlError(ValueError):
    pass


def _allowed_alias_ratio(decoded: int) -> float:
    """go-yaml v2's allowedAliasRatio."""
    if decoded <= _RATIO_LOW:
        return 0.99
    if decoded >= _RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * ((decoded - _RATIO_LOW) / (_RATIO_HIGH - _RATIO_LOW))


def _excessive(aliased: int, decoded: int) -> bool:
    return aliased > 100 and decoded > 1000 and aliased / decoded > _allowed_alias_ratio(decoded)


def _check_events(text: str) -> None:
    """Count what go-yaml v2 would decode, aliases expanded, without building anything.

    Within one alias expansion both counts grow together, so the share only rises while the allowed
    share only falls: checking after each expansion finds what go-yaml's check at every node finds.
    """
    decoded = aliased = 0
    size: dict[str, int] = {}  # anchor -> nodes decoded for it (its aliases expanded)
    height: dict[str, int] = {}  # anchor -> collections deep it reaches
    open_: list[tuple[int, str | None, int]] = []  # (decoded before it, anchor, deepest below it)

    def note(count: int, through_alias: bool) -> None:
        nonlocal decoded, aliased
        decoded += count
        if through_alias:
            aliased += count
        if _excessive(aliased, decoded):
            raise YamlError("document contains excessive aliasing")

    def reach(depth: int) -> None:
        if depth > MAX_DEPTH:
            raise YamlError(f"nested more than {MAX_DEPTH} collections deep (aliases expanded)")
        if open_:
            start, anchor, deepest = open_[-1]
            open_[-1] = (start, anchor, max(deepest, depth))

    try:
        for event in yaml.parse(text, Loader=_BASE):
            if isinstance(event, yaml.DocumentStartEvent):
                note(1, False)
            elif isinstance(event, yaml.AliasEvent):
                anchor = str(event.anchor)
                if any(item[1] == anchor for item in open_):
                    raise YamlError(f"anchor {anchor!r} value contains itself")
                if anchor not in size:
                    raise YamlError(f"unknown anchor {anchor!r} referenced")
                note(1, False)
                note(size[anchor], True)
                reach(len(open_) + height[anchor])
            elif isinstance(event, yaml.ScalarEvent):
                note(1, False)
                reach(len(open_))
                if event.anchor is not None:
                    size[str(event.anchor)], height[str(event.anchor)] = 1, 0
            elif isinstance(event, yaml.CollectionStartEvent):
                note(1, False)
                reach(len(open_) + 1)
                open_.append(
                    (decoded - 1, None if event.anchor is None else str(event.anchor), len(open_) + 1)
                )
            elif isinstance(event, yaml.CollectionEndEvent):
                start, closed, deepest = open_.pop()
                if open_:
                    outer_start, outer_anchor, outer_deepest = open_[-1]
                    open_[-1] = (outer_start, outer_anchor, max(outer_deepest, deepest))
                if closed is not None:
                    size[closed], height[closed] = decoded - start, deepest - len(open_)
    except yaml.YAMLError as error:
        raise YamlError(_first_line(error)) from None


def _first_line(error: Exception) -> str:
    """The parser's problem and where: `could not find expected ':' (line 3, column 1)`."""
    problem, mark = getattr(error, "problem", None), getattr(error, "problem_mark", None)
    if problem and mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _go_float_key(value: float) -> str:
    """strconv.FormatFloat(value, 'g', -1, 32), with go-yaml's names for infinities and NaN."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    single = struct.unpack("f", struct.pack("f", value))[0]
    if single == 0:
        return "0" if math.copysign(1, single) > 0 else "-0"
    for digits in range(1, 10):  # the shortest that reads back as the same float32
        mantissa, _, exponent = f"{single:.{digits - 1}e}".partition("e")
        if struct.unpack("f", struct.pack("f", float(f"{mantissa}e{exponent}")))[0] == single:
            break
    sign = "-" if mantissa.startswith("-") else ""
    figures = mantissa.lstrip("-").replace(".", "").rstrip("0") or "0"
    exp = int(exponent)
    if exp < -4 or exp >= 6:  # Go's 'g' with the shortest digits: %e when exp < -4 || exp >= 6
        tail = f".{figures[1:]}" if len(figures) > 1 else ""
        return f"{sign}{figures[0]}{tail}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp >= 0:
        whole = figures[: exp + 1].ljust(exp + 1, "0")
        fraction = figures[exp + 1 :]
        return f"{sign}{whole}" + (f".{fraction}" if fraction else "")
    return f"{sign}0.{'0' * (-exp - 1)}{figures}"


def _key(key: Any) -> str:
    """sigs.k8s.io/yaml's convertToJSONableObject: the key types go-yaml v2 gives, as strings."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, str):
        return key
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return _go_float_key(key)
    raise YamlError(f"unsupported map key {key!r}: JSON keys are strings")


class _GoLoader(_BASE):  # type: ignore[valid-type,misc]
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)  # YAML merge keys (`<<`), which go-yaml v2 supports too
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                raise YamlError("unsupported map key: a collection")
            mapping[_key(key)] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int | float:
        value = super().construct_yaml_int(node)
        return value if -(2**63) <= value < 2**64 else float(value)  # go-yaml: a float64 beyond 64 bits

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        value = float(super().construct_yaml_float(node))
        if not math.isfinite(value):
            raise YamlError(f"{node.value!r}: JSON has no NaN or infinity")
        return value

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> str:
        return str(node.value)  # go-yaml v2 keeps timestamps as the text written

    def construct_yaml_binary(self, node: yaml.ScalarNode) -> str:
        try:
            raw = base64.b64decode("".join(str(node.value).split()), validate=True)
        except (binascii.Error, ValueError) as error:
            raise YamlError(f"!!binary: {error}") from None
        return raw.decode("utf-8", errors="replace")  # Go's json.Marshal replaces invalid UTF-8

    def construct_yaml_set(self, node: yaml.MappingNode) -> Any:
        yield self.construct_mapping(node, deep=True)

    def construct_yaml_omap(self, node: yaml.SequenceNode) -> Any:
        yield [self.construct_mapping(item, deep=True) for item in node.value]


_GoLoader.add_constructor("tag:yaml.org,2002:int", _GoLoader.construct_yaml_int)
_GoLoader.add_constructor("tag:yaml.org,2002:float", _GoLoader.construct_yaml_float)
_GoLoader.add_constructor("tag:yaml.org,2002:timestamp", _GoLoader.construct_yaml_timestamp)
_GoLoader.add_constructor("tag:yaml.org,2002:binary", _GoLoader.construct_yaml_binary)
_GoLoader.add_constructor("tag:yaml.org,2002:set", _GoLoader.construct_yaml_set)
_GoLoader.add_constructor("tag:yaml.org,2002:omap", _GoLoader.construct_yaml_omap)
_GoLoader.add_constructor("tag:yaml.org,2002:pairs", _GoLoader.construct_yaml_omap)


def load(text: str) -> Any:
    """The document's value as KubeRay's JSON would carry it; YamlError if it cannot."""
    _check_events(text)
    try:
        return yaml.load(text, Loader=_GoLoader)
    except yaml.YAMLError as error:
        raise YamlError(_first_line(error)) from None
