"""Hostile values the unit and e2e tests feed the operator, written once."""

from __future__ import annotations

from typing import Any

# go-yaml v2's own example of what it refuses (TestUnmarshalErrors): 9 ** 9 nodes from 9 lines.
ALIAS_BOMB = "a: &a [00,00,00,00,00,00,00,00,00]\n" + "".join(
    f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)


def nested(depth: int) -> Any:
    """{"a": {"a": ... "leaf"}}, `depth` objects deep, built without recursion."""
    node: Any = "leaf"
    for _ in range(depth):
        node = {"a": node}
    return node
