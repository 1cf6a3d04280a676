"""The workload samples (manifests/samples/digits-*.yaml, ray-core-primer.yaml) as the e2e tests and
bench/workloads.py run them: read, pointed at a model folder of their own, applied, followed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from e2e.conftest import ROOT, Kubectl, wait_for
from raykopf_local.demo import MODEL

SAMPLES = ROOT / "manifests" / "samples"
# Where the samples' hostPath volume keeps the model on the node.
SAMPLE_MODELS = str(MODEL.parent)


def documents(sample: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((SAMPLES / sample).read_text()) if doc]


def _mappings(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _mappings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _mappings(value)


def with_models(docs: list[dict[str, Any]], folder: Path) -> list[dict[str, Any]]:
    """The sample with its model hostPath moved to `folder` (a run of its own, removable after)."""
    moved = 0
    for mapping in _mappings(docs):
        if (mapping.get("hostPath") or {}).get("path") == SAMPLE_MODELS:
            mapping["hostPath"]["path"] = str(folder)
            moved += 1
    assert moved, "the sample has no model volume"
    return docs


def with_env(docs: list[dict[str, Any]], **env: str) -> list[dict[str, Any]]:
    """The load generator Job with these environment variables."""
    for doc in docs:
        if doc["kind"] == "Job":
            container = doc["spec"]["template"]["spec"]["containers"][0]
            kept = [e for e in container.get("env", []) if e["name"] not in env]
            container["env"] = kept + [{"name": k, "value": v} for k, v in env.items()]
    return docs


def without_ttl(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The RayJob's cluster deleted as soon as the job ends (the sample keeps it 60 s to look at)."""
    for doc in docs:
        if doc["kind"] == "RayJob":
            doc["spec"]["ttlSecondsAfterFinished"] = 0
    return docs


def job_finished(kubectl: Kubectl, namespace: str, name: str) -> bool:
    status = kubectl.json("get", "job", name, "-n", namespace).get("status") or {}
    return bool(status.get("succeeded") or status.get("failed"))


def apply(kubectl: Kubectl, namespace: str, docs: list[dict[str, Any]]) -> None:
    kubectl.apply(yaml.safe_dump_all(docs), namespace)


def rayjob_status(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = kubectl.json("get", "rayjob", name, "-n", namespace).get("status") or {}
    return found


def wait_rayjob_ended(kubectl: Kubectl, namespace: str, name: str, timeout: float) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        current = rayjob_status(kubectl, namespace, name)
        return current if current.get("jobDeploymentStatus") in ("Complete", "Failed") else None

    result: dict[str, Any] = wait_for(ended, timeout, f"RayJob {name} to end", interval=2)
    return result


def rayservice_status(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = kubectl.json("get", "rayservice", name, "-n", namespace).get("status") or {}
    return found


def rayservice_ready(kubectl: Kubectl, namespace: str, name: str) -> bool:
    conditions = rayservice_status(kubectl, namespace, name).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def worker_pods(kubectl: Kubectl, namespace: str, cluster: str) -> list[dict[str, Any]]:
    selector = f"ray.io/cluster={cluster},ray.io/node-type=worker"
    pods: list[dict[str, Any]] = kubectl.json("get", "pods", "-n", namespace, "-l", selector)["items"]
    return pods


def ready_pods(pods: list[dict[str, Any]]) -> int:
    return sum(
        1
        for pod in pods
        if not pod["metadata"].get("deletionTimestamp")
        and any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])
    )


def job_summary(kubectl: Kubectl, namespace: str, job: str) -> dict[str, Any]:
    """The load generator's JSON summary (its last line)."""
    lines = kubectl("logs", "-n", namespace, f"job/{job}").strip().splitlines()
    summary: dict[str, Any] = json.loads(lines[-1])
    return summary


def patch_serve_config(
    kubectl: Kubectl, namespace: str, name: str, change: Callable[[dict[str, Any]], None]
) -> None:
    """Change a RayService's Serve config (parsed) with `change`, and write it back."""
    current = kubectl.json("get", "rayservice", name, "-n", namespace)
    config = yaml.safe_load(current["spec"]["serveConfigV2"])
    change(config)
    patch = json.dumps({"spec": {"serveConfigV2": yaml.safe_dump(config, sort_keys=False)}})
    kubectl("patch", "rayservice", name, "-n", namespace, "--type=merge", "-p", patch)


def set_release(kubectl: Kubectl, namespace: str, name: str, release: str) -> None:
    """A model update: the deployment's user_config changes, which Serve applies in place."""

    def change(config: dict[str, Any]) -> None:
        for application in config["applications"]:
            for deployment in application.get("deployments") or []:
                if "user_config" in deployment:
                    deployment["user_config"]["release"] = release

    patch_serve_config(kubectl, namespace, name, change)
