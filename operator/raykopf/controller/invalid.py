"""Validating an object (cached) and reporting it when invalid: one Warning event per generation,
listing every problem."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from raykopf.k8s.events import EventRecorder
from raykopf.validation import Gates, Problem, validate

log = logging.getLogger("raykopf")
Key = tuple[str, str]


def invalid_reason(kind: str, errors: list[Problem]) -> str:
    """KubeRay's `Invalid<Kind>Metadata` when only the metadata is wrong, else `Invalid<Kind>Spec`."""
    part = "Metadata" if all(p.path.startswith("metadata") for p in errors) else "Spec"
    return f"Invalid{kind}{part}"


@dataclass
class InvalidReports:
    events: EventRecorder
    gates: Gates = field(default_factory=Gates)
    # (namespace, name) -> the generation whose problems were already reported.
    reported: dict[Key, int | None] = field(default_factory=dict)
    # (namespace, name) -> (what the rules read, its errors): every Pod event reconciles its cluster,
    # and schema-checking the pod templates each time would put that work on the hot path.
    validated: dict[Key, tuple[Any, list[Problem]]] = field(default_factory=dict)

    def errors(self, key: Key, raw: dict[str, Any]) -> list[Problem]:
        meta = raw["metadata"]
        fingerprint = (
            meta.get("uid"),
            meta.get("generation"),
            tuple(sorted((meta.get("annotations") or {}).items())),
        )
        cached = self.validated.get(key)
        if cached is None or cached[0] != fingerprint:
            cached = (fingerprint, [p for p in validate(raw, self.gates) if p.is_error])
            self.validated[key] = cached
        return cached[1]

    def report(self, key: Key, raw: dict[str, Any], kind: str, errors: list[Problem]) -> str:
        """KubeRay's `Invalid<Kind>Metadata` or `Invalid<Kind>Spec` event (once); the message."""
        message = "; ".join(str(p) for p in errors)
        generation = raw["metadata"].get("generation")
        if self.reported.get(key, -1) != generation:
            self.reported[key] = generation
            self.events.record(raw, kind, "Warning", invalid_reason(kind, errors), message)
            log.warning(f"invalid {kind}", extra={"object": f"{key[0]}/{key[1]}", "problems": message[:500]})
        return message

    def forget(self, key: Key) -> None:
        self.reported.pop(key, None)
        self.validated.pop(key, None)
