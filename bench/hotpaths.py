"""The operator's two hottest pure paths in a bulk run, timed in-process (no cluster needed).

    python -m bench.hotpaths [--clusters 1000]

1. Decoding a Pod watch event (the Pod raykopf builds for a bench worker, with a Running status, as the
   apiserver sends it): the standard library's `json.loads` against orjson, which the client uses.
2. Validating `--clusters` RayClusters made from one template (only the names differ): every one
   checked against Kubernetes' schema (the content cache emptied before each) against the cache kept.
Prints microseconds per event and milliseconds per RayCluster.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import orjson

from bench.harness import raycluster
from raykopf.api import RayCluster
from raykopf.builders.pod import build_worker_pod
from raykopf.config import OperatorConfig
from raykopf.validation import core_types, validate


def watch_event() -> bytes:
    cluster = RayCluster.model_validate(raycluster("rc-00001", "bench", 3))
    pod = build_worker_pod(
        cluster, (cluster.spec.worker_group_specs or [])[0], OperatorConfig(), replica_index=0
    )
    pod["metadata"].update(
        uid="7d1c2a52-31b0-4d59-9a8e-2f7f4c1f0a11",
        resourceVersion="123456",
        creationTimestamp="2026-12-03T12:00:00Z",
        managedFields=[{"manager": "raykopf", "operation": "Update", "fieldsV1": {"f:metadata": {}}}],
    )
    pod["spec"]["nodeName"] = "raykopf-sim-0"
    conditions = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
    pod["status"] = {
        "phase": "Running",
        "podIP": "198.18.128.7",
        "conditions": [
            {"type": t, "status": "True", "lastTransitionTime": "2026-12-03T12:00:01Z"} for t in conditions
        ],
        "containerStatuses": [
            {
                "name": "ray-worker",
                "ready": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": "2026-12-03T12:00:01Z"}},
            }
        ],
    }
    return json.dumps({"type": "MODIFIED", "object": pod}).encode()


def per_call(function: Callable[[], Any], repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - started) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clusters", type=int, default=1000)
    args = parser.parse_args()

    event = watch_event()
    assert orjson.loads(event) == json.loads(event)
    stdlib, fast = per_call(lambda: json.loads(event), 20_000), per_call(lambda: orjson.loads(event), 20_000)
    print(
        f"decoding a {len(event):,}-byte Pod watch event: json {1e6 * stdlib:.1f} us, "
        f"orjson {1e6 * fast:.1f} us ({stdlib / fast:.1f} times faster)"
    )

    manifests = [raycluster(f"rc-{i:05d}", "bench", 3) for i in range(args.clusters)]

    def uncached() -> None:
        for manifest in manifests:
            core_types._checked.clear()
            validate(manifest)

    def cached() -> None:
        for manifest in manifests:
            validate(manifest)

    core_types._checked.clear()
    cold, warm = per_call(uncached, 1), per_call(cached, 1)
    print(
        f"validating {args.clusters:,} RayClusters from one template: {1000 * cold / args.clusters:.2f} ms each "
        f"without the content cache, {1000 * warm / args.clusters:.2f} ms with it ({cold / warm:.1f} times faster)"
    )


if __name__ == "__main__":
    main()
