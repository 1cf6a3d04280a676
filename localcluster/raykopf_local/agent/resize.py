"""In-place Pod resize (`kubectl patch pod --subresource resize`, GA in Kubernetes 1.35), decided as
kubelet decides it (pure): which containers must restart because their `resizePolicy` says so for a
resource that changed. A size the node cannot hold never gets here: the apiserver refuses it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RESTART_CONTAINER = "RestartContainer"


@dataclass(frozen=True)
class Decision:
    """`restart` names the containers to restart and `resources` is what each runs with."""

    restart: tuple[str, ...]
    resources: dict[str, dict[str, Any]]


def changed_resources(old: dict[str, Any], new: dict[str, Any]) -> set[str]:
    """The resource names whose request or limit differs."""
    names = set()
    for kind in ("requests", "limits"):
        before, after = old.get(kind) or {}, new.get(kind) or {}
        names |= {name for name in set(before) | set(after) if before.get(name) != after.get(name)}
    return names


def decide(containers: list[dict[str, Any]], current: dict[str, dict[str, Any]]) -> Decision:
    """`containers` from the Pod's spec, `current` each container's resources as it runs now."""
    restart = []
    resources = {}
    for container in containers:
        name, wanted = container["name"], container.get("resources") or {}
        resources[name] = wanted
        policy = {p["resourceName"]: p.get("restartPolicy") for p in container.get("resizePolicy") or []}
        if any(policy.get(r) == RESTART_CONTAINER for r in changed_resources(current.get(name, {}), wanted)):
            restart.append(name)
    return Decision(restart=tuple(restart), resources=resources)
