"""Ray's job REST API on a head Pod, as the tests use it."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from e2e.conftest import wait_for

TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
# A head-only cluster: the driver and its tasks run on the head (1 CPU), so a test costs one Ray node.
HEAD_ONLY = {
    "rayVersion": "2.60.0",
    "headGroupSpec": {
        "rayStartParams": {"num-cpus": "1", "object-store-memory": "100000000"},
        "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.60.0"}]}},
    },
}
TASKS = "python -c \"import ray; ray.init(); print('answer', ray.get(ray.remote(lambda: 6 * 7).remote()))\""


def submit_job(head_ip: str, entrypoint: str) -> str:
    request = urllib.request.Request(
        f"http://{head_ip}:8265/api/jobs/",
        data=json.dumps({"entrypoint": entrypoint}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.load(response)["submission_id"])


def wait_job(head_ip: str, job: str, timeout: float) -> tuple[str, str]:
    """The job's final status and its driver logs."""

    def finished() -> dict[str, Any] | None:
        with urllib.request.urlopen(f"http://{head_ip}:8265/api/jobs/{job}", timeout=10) as response:
            info: dict[str, Any] = json.load(response)
        return info if info["status"] in TERMINAL else None

    info = wait_for(finished, timeout, "the Ray job", interval=2)
    with urllib.request.urlopen(f"http://{head_ip}:8265/api/jobs/{job}/logs", timeout=10) as response:
        return str(info["status"]), str(json.load(response)["logs"])
