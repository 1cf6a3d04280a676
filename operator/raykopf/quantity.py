"""Kubernetes resource quantities ("500m", "2Gi", "1e3", 4) as exact decimals."""

from __future__ import annotations

import math
import re
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


# Kubernetes' quantity syntax (resource.ParseQuantity): a signed decimal number, then a binary or
# decimal SI suffix or a decimal exponent. No NaN, no infinity; exponents of two digits at most, so
# that no quantity a tenant writes can turn into an integer of a million digits.
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]{1,2})?"
)


def parse(value: Any) -> Decimal:
    """The amount of a quantity (cores for CPU, bytes for memory). Raises ValueError when it is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"not a quantity: {value!r}")
    text = str(value).strip()
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise ValueError(f"not a quantity: {value!r}")
    number, suffix = match["number"], match["suffix"] or ""
    try:
        if suffix[:1] in ("e", "E"):
            return Decimal(number) * Decimal(10) ** int(suffix[1:])
        return Decimal(number) * _SUFFIXES.get(suffix, Decimal(1))
    except InvalidOperation as error:
        raise ValueError(f"not a quantity: {value!r}") from error


def ceil(value: Any) -> int:
    """Quantity.Value() in Kubernetes: rounded up to a whole number."""
    return math.ceil(parse(value))


_BINARY = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_DECIMAL = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}


def is_binary(value: Any) -> bool:
    """Whether a quantity is written with a binary suffix (Go's BinarySI format)."""
    return str(value).strip().endswith(_BINARY[1:])


def canonical(amount: Decimal, *, binary: bool) -> str:
    """How Go's resource.Quantity writes an amount (its canonical form): in BinarySI, a whole number
    of at least 1024 as `<n><Ki..Ei>` with the largest exact suffix; otherwise in DecimalSI, the
    largest power-of-1000 suffix that leaves a whole number (`120G`, `750m`, `1500`), rounded up at
    nano precision."""
    if binary and abs(amount) >= 1024 and amount == amount.to_integral_value():
        whole, power = int(amount), 0
        while power < len(_BINARY) - 1 and whole % 1024 == 0:
            whole, power = whole // 1024, power + 1
        return f"{whole}{_BINARY[power]}"
    nanos = math.ceil(amount * Decimal(10) ** 9)
    if nanos == 0:
        return "0"
    exponent = 18
    while exponent > -9 and nanos % 10 ** (exponent + 9) != 0:
        exponent -= 3
    return f"{nanos // 10 ** (exponent + 9)}{_DECIMAL[exponent]}"
