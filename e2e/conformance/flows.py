"""Flows: a case changed step by step the same way on both sides (scale, workersToDelete, suspend and
resume, head Pod deletion), compared after every step once both operators have settled again.

A step acts on one side at a time, given that side's namespace and current objects, because what it
names (a worker Pod to delete) is chance and differs between the sides.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from e2e.conformance.cases import Case, _basic, _raycluster
from e2e.conftest import Kubectl

Act = Callable[[Kubectl, str, list[dict[str, Any]]], None]


@dataclass(frozen=True)
class Step:
    name: str
    act: Act


@dataclass(frozen=True)
class Flow:
    case: Case
    steps: tuple[Step, ...]


def _patch(case: str, patch: dict[str, Any]) -> Act:
    def act(kubectl: Kubectl, namespace: str, objects: list[dict[str, Any]]) -> None:
        kubectl("patch", "-n", namespace, "raycluster", case, "--type=merge", "-p", json.dumps(patch))

    return act


def _pods(objects: list[dict[str, Any]], case: str, node_type: str) -> list[str]:
    """The live Pods' names, by replica index (the same on both sides), then name."""
    chosen = sorted(
        (
            (item["metadata"].get("labels") or {}).get("ray.io/worker-group-replica-index", ""),
            item["metadata"]["name"],
        )
        for item in objects
        if item["kind"] == "Pod"
        and (item["metadata"].get("labels") or {}).get("ray.io/cluster") == case
        and (item["metadata"].get("labels") or {}).get("ray.io/node-type") == node_type
        and not item["metadata"].get("deletionTimestamp")
    )
    return [name for _, name in chosen]


def _workers(group: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"workerGroupSpecs": [group]}}


def _delete_one_worker(case: str, group: dict[str, Any]) -> Act:
    """Scale down by one, naming the worker with the highest replica index (as Ray's autoscaler
    names the worker to go)."""

    def act(kubectl: Kubectl, namespace: str, objects: list[dict[str, Any]]) -> None:
        workers = _pods(objects, case, "worker")
        assert workers, f"{namespace}/{case}: no worker Pod to delete"
        chosen = {**group, "replicas": len(workers) - 1, "scaleStrategy": {"workersToDelete": [workers[-1]]}}
        _patch(case, _workers(chosen))(kubectl, namespace, objects)

    return act


def _delete_head(case: str) -> Act:
    def act(kubectl: Kubectl, namespace: str, objects: list[dict[str, Any]]) -> None:
        heads = _pods(objects, case, "head")
        assert len(heads) == 1, f"{namespace}/{case}: expected one head Pod, found {heads}"
        kubectl("delete", "pod", "-n", namespace, heads[0], "--wait=false")

    return act


def _group(case: Case, **changes: Any) -> dict[str, Any]:
    """The case's worker group as applied (on the simulated node), with `changes`."""
    return {**case.root["spec"]["workerGroupSpecs"][0], **changes}


def flows() -> list[Flow]:
    found = []

    case = _raycluster("flow-scale", _basic())
    found.append(
        Flow(
            case,
            (
                Step("scale up to 3", _patch(case.name, _workers(_group(case, replicas=3)))),
                Step("scale down to 1", _patch(case.name, _workers(_group(case, replicas=1)))),
            ),
        )
    )

    spec = _basic()
    spec["workerGroupSpecs"][0]["replicas"] = 2
    case = _raycluster("flow-workers-to-delete", spec)
    found.append(Flow(case, (Step("delete one named worker", _delete_one_worker(case.name, _group(case))),)))

    case = _raycluster("flow-suspend", _basic())
    found.append(
        Flow(
            case,
            (
                Step("suspend", _patch(case.name, {"spec": {"suspend": True}})),
                Step("resume", _patch(case.name, {"spec": {"suspend": False}})),
            ),
        )
    )

    case = _raycluster("flow-head-deleted", _basic())
    found.append(Flow(case, (Step("delete the head Pod", _delete_head(case.name)),)))
    return found
