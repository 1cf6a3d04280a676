"""Cases that need Ray itself: RayJobs that run to the end on head-only clusters of the local Ray
runtime (K8sJobMode, HTTPMode, and a multi-line YAML entrypoint), and raykopf's RayService sample
serving, then updated in place. Their Pods go to the process node, where the agent starts real Ray;
they are compared once both sides' jobs have finished, or both sides serve.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from e2e.conformance.cases import OWN_SAMPLES, Case, sample_case
from e2e.ray_jobs import HEAD_ONLY, TASKS

# What a `|` block in YAML gives: newlines inside the command and one at the end.
MULTI_LINE = "python -c \"import ray\nray.init()\nprint('answer', 6 * 7)\"\n"
TERMINAL = ("Complete", "Failed")


def _rayjob(name: str, entrypoint: str, **spec: Any) -> Case:
    root = {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": name},
        "spec": {"entrypoint": entrypoint, "rayClusterSpec": HEAD_ONLY, **spec},
    }
    return Case(name=name, source="synthetic, real Ray", root=root)


def real_ray_cases() -> list[Case]:
    return [
        _rayjob("real-job-k8s", TASKS),
        _rayjob("real-job-http", TASKS, submissionMode="HTTPMode"),
        _rayjob("real-job-multi-line", MULTI_LINE),
    ]


def finished(root: dict[str, Any]) -> bool:
    return (root.get("status") or {}).get("jobDeploymentStatus") in TERMINAL


# A user's serve Service: NodePort, with an annotation, a label and the port's appProtocol.
SERVE_SERVICE = {
    "metadata": {"labels": {"team": "a"}, "annotations": {"note": "user"}},
    "spec": {"type": "NodePort", "ports": [{"name": "serve", "port": 8000, "appProtocol": "http"}]},
}


# A custom resource only the worker offers: the Serve replica goes there on both sides. Ray starts a
# worker's proxy only once the node has a replica, and KubeRay's readiness probe of a RayService
# worker asks that proxy: with the replica placed by chance, one side's worker could stay unready.
ON_WORKER = "serve-replica"


def real_rayservice_case() -> Case:
    """raykopf's RayService sample (real Ray; its app ships in a ConfigMap), with a serve Service of
    the user's and its one Serve replica on the worker."""
    case = sample_case(OWN_SAMPLES / "rayservice.sample.yaml", "real", simulated=False)
    spec = case.root["spec"]
    spec["serveService"] = SERVE_SERVICE
    config = yaml.safe_load(spec["serveConfigV2"])
    config["applications"][0]["deployments"][0]["ray_actor_options"] = {"resources": {ON_WORKER: 1}}
    spec["serveConfigV2"] = yaml.safe_dump(config)
    worker = spec["rayClusterConfig"]["workerGroupSpecs"][0]
    worker["rayStartParams"]["resources"] = json.dumps(json.dumps({ON_WORKER: 1}))
    return case


def serving(root: dict[str, Any]) -> bool:
    conditions = (root.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def serving_on_every_pod(root: dict[str, Any]) -> bool:
    """Ready, and the serve Service reaches the head and the worker (each Pod's proxy answers)."""
    return serving(root) and (root.get("status") or {}).get("numServeEndpoints") == 2


def greeting_patch(root: dict[str, Any], greeting: str) -> dict[str, Any]:
    """A merge patch of serveConfigV2 with the app's user_config greeting changed: an in-place update."""
    config = yaml.safe_load(root["spec"]["serveConfigV2"])
    config["applications"][0]["deployments"][0]["user_config"]["greeting"] = greeting
    return {"spec": {"serveConfigV2": yaml.safe_dump(config)}}
