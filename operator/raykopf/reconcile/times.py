"""Kubernetes timestamps (RFC 3339, UTC, whole seconds) to and from datetimes."""

from __future__ import annotations

import datetime
from typing import Any


def iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(value: Any) -> datetime.datetime | None:
    """A Time or MicroTime string as an aware datetime; None when empty or not a timestamp."""
    if not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)
