"""Cases that need Ray itself: RayJobs that run to the end on head-only clusters of the local Ray
runtime (K8sJobMode, HTTPMode, and a multi-line YAML entrypoint). Their Pods go to the process node,
where the agent starts real Ray; they are compared once both sides' jobs have finished.
"""

from __future__ import annotations

from typing import Any

from e2e.conformance.cases import Case

HEAD_ONLY = {
    "rayVersion": "2.60.0",
    "headGroupSpec": {
        "rayStartParams": {"num-cpus": "1", "object-store-memory": "100000000"},
        "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.60.0"}]}},
    },
}
TASKS = "python -c \"import ray; ray.init(); print('answer', ray.get(ray.remote(lambda: 6 * 7).remote()))\""
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
