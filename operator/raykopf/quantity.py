"""Kubernetes resource quantities ("500m", "2Gi", "1e3", 4) as exact decimals."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

_SUFFIXES: dict[str, Decimal] = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}
_BY_LENGTH = sorted(_SUFFIXES, key=len, reverse=True)


def parse(value: Any) -> Decimal:
    """The amount of a quantity (cores for CPU, bytes for memory). Raises ValueError when it is not one."""
    text = str(value).strip()
    for suffix in _BY_LENGTH:
        if text.endswith(suffix):
            number = text[: -len(suffix)]
            try:
                return Decimal(number) * _SUFFIXES[suffix]
            except InvalidOperation:
                break
    try:
        return Decimal(text)
    except InvalidOperation as error:
        raise ValueError(f"not a quantity: {value!r}") from error


def ceil(value: Any) -> int:
    """Quantity.Value() in Kubernetes: rounded up to a whole number."""
    return math.ceil(parse(value))
