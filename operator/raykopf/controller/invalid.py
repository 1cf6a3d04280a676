"""Reporting an invalid object: one Warning event per generation, listing every problem."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from raykopf.k8s.events import EventRecorder
from raykopf.validation import Problem

log = logging.getLogger("raykopf")
Key = tuple[str, str]


@dataclass
class InvalidReports:
    events: EventRecorder
    # (namespace, name) -> the generation whose problems were already reported.
    reported: dict[Key, int | None] = field(default_factory=dict)

    def report(self, key: Key, raw: dict[str, Any], kind: str, errors: list[Problem]) -> str:
        """KubeRay's `Invalid<Kind>Metadata` or `Invalid<Kind>Spec` event (once); the message."""
        message = "; ".join(str(p) for p in errors)
        generation = raw["metadata"].get("generation")
        if self.reported.get(key, -1) != generation:
            self.reported[key] = generation
            part = "Metadata" if all(p.path.startswith("metadata") for p in errors) else "Spec"
            self.events.record(raw, kind, "Warning", f"Invalid{kind}{part}", message)
            log.warning(f"invalid {kind}", extra={"object": f"{key[0]}/{key[1]}", "problems": message[:500]})
        return message

    def forget(self, key: Key) -> None:
        self.reported.pop(key, None)
