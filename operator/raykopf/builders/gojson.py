"""JSON written as Go's encoding/json writes it, where KubeRay's output is compared byte for byte."""

from __future__ import annotations

import json
from typing import Any

_ESCAPED = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def _go_numbers(value: Any) -> Any:
    """Whole floats as Go writes a float64 (`2`, not `2.0`)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {key: _go_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_go_numbers(item) for item in value]
    return value


def go_json(value: Any) -> str:
    """As json.Marshal: map keys sorted, no spaces, `<`, `>`, `&`, U+2028 and U+2029 escaped, other
    Unicode kept, whole floats without a fraction."""
    text = json.dumps(_go_numbers(value), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    for char, escaped in _ESCAPED:
        text = text.replace(char, escaped)
    return text


def go_quote(text: str) -> str:
    """Go's strconv.Quote: a double-quoted string with Go's escapes (printable Unicode kept)."""
    return json.dumps(text, ensure_ascii=False)
