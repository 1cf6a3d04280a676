"""What validation reports: a field path, what is wrong there and what is expected."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One problem in a manifest. `path` uses the wire names: `spec.workerGroupSpecs[0].groupName`."""

    path: str
    message: str
    severity: Severity = Severity.ERROR

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        prefix = "" if self.is_error else "warning: "
        return f"{prefix}{self.path}: {self.message}"


def join(path: str, key: str | int) -> str:
    """Extend a field path with a map key or a list index."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def join_all(path: str, keys: object) -> str:
    for key in keys:  # type: ignore[attr-defined]
        path = join(path, key)
    return path


def brief(value: object, limit: int = 60) -> str:
    """A short repr of a user's value for a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
