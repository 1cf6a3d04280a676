"""One quantity parser for builders, status and the node agent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from raykopf import quantity


@pytest.mark.parametrize(
    ("text", "amount", "rounded"),
    [
        ("500m", Decimal("0.5"), 1),
        ("2", Decimal(2), 2),
        ("1.5", Decimal("1.5"), 2),
        ("2Gi", Decimal(2**31), 2**31),
        ("1k", Decimal(1000), 1000),
        ("1e3", Decimal(1000), 1000),
        (3, Decimal(3), 3),
        ("100Mi", Decimal(100 * 2**20), 100 * 2**20),
    ],
)
def test_quantities(text: object, amount: Decimal, rounded: int) -> None:
    assert quantity.parse(text) == amount
    assert quantity.ceil(text) == rounded


def test_garbage_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a quantity"):
        quantity.parse("lots")


@pytest.mark.parametrize(
    ("amount", "binary", "written"),
    [
        # KubeRay's desiredMemory for the TPU sample (3 x 40G): seen from its operator.
        ("120e9", False, "120G"),
        # Go's resource.Quantity canonical forms (k8s.io/apimachinery quantity_test.go).
        ("0.75", False, "750m"),
        ("1.5", False, "1500m"),
        ("2000", False, "2k"),
        ("1500", False, "1500"),
        ("3221225472", True, "3Gi"),
        ("1536", True, "1536"),
        ("512", True, "512"),
        ("0", True, "0"),
    ],
)
def test_quantities_are_written_as_go_writes_them(amount: str, binary: bool, written: str) -> None:
    assert quantity.canonical(Decimal(amount), binary=binary) == written
