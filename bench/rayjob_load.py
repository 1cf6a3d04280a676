"""Do running RayJobs slow RayCluster reconciliation down? (KubeRay: 100 RayJobs block its queue,
because it calls each dashboard synchronously inside reconcile.)

    python -m bench.rayjob_load [--clusters 200] [--rayjobs 100] [--concurrency 10]

1. `--clusters` RayClusters (head + 1 worker, simulated nodes) are applied with no RayJob around; we
   time each head Pod's arrival after its RayCluster's apply, and the last Pod's.
2. `--rayjobs` RayJobs (HTTPMode) are put on `--rayjobs` ready RayClusters via clusterSelector and wait
   in Running, their dashboards unreachable (simulated Pods run nothing): the worst case, every poll
   waits for a timeout. The operator goes through the apiserver (`--use-kubernetes-proxy`).
3. Step 1 again, in a new namespace, with those RayJobs running.
Prints both measurements side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

from bench.harness import (
    Operator,
    PodClock,
    argument_parser,
    bounded,
    create_namespace,
    delete_namespace,
    ensure_cluster,
    raycluster,
    running,
    say,
    session,
)
from raykopf.k8s.client import KubeClient

JOBS_NS = "bench-load-jobs"


def rayclusters(namespace: str) -> str:
    return f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters"


async def apply_and_time(
    client: KubeClient, operator: Operator, namespace: str, clusters: int
) -> dict[str, float]:
    await create_namespace(client, namespace)
    names = [f"rc-{i:04d}" for i in range(clusters)]
    applied: dict[str, float] = {}
    cpu_before = operator.cpu_seconds

    async def apply(name: str) -> None:
        await client.create(rayclusters(namespace), raycluster(name, namespace, 1))
        applied[name] = time.monotonic()

    async with running(PodClock(client, namespace)) as clock:
        started = time.monotonic()
        await bounded(10, [apply(n) for n in names])
        await clock.wait_added(2 * clusters, 600)
        heads = []
        for name in names:
            head = next(t for pod, t in clock.added.items() if pod.startswith(f"{name}-head-"))
            heads.append(max(head - applied[name], 0.0))
        heads.sort()
        result = {
            "all_pods_seconds": max(clock.added.values()) - started,
            "head_p50_seconds": statistics.median(heads),
            "head_p95_seconds": heads[int(0.95 * (len(heads) - 1))],
            "head_max_seconds": heads[-1],
            "operator_cpu_seconds": operator.cpu_seconds - cpu_before,
        }
    say(
        f"{namespace}: {2 * clusters} Pods in {result['all_pods_seconds']:.1f} s; head Pod after apply "
        f"p50 {result['head_p50_seconds']:.2f} s, p95 {result['head_p95_seconds']:.2f} s, max {result['head_max_seconds']:.2f} s; "
        f"operator CPU {result['operator_cpu_seconds']:.1f} s"
    )
    return result


async def start_rayjobs(client: KubeClient, count: int) -> None:
    await create_namespace(client, JOBS_NS)
    await bounded(
        10,
        [
            client.create(rayclusters(JOBS_NS), raycluster(f"target-{i:03d}", JOBS_NS, 0))
            for i in range(count)
        ],
    )
    jobs_path = f"/apis/ray.io/v1/namespaces/{JOBS_NS}/rayjobs"

    def rayjob(i: int) -> dict[str, Any]:
        spec = {
            "entrypoint": "sleep 3600",
            "submissionMode": "HTTPMode",
            "clusterSelector": {"ray.io/cluster": f"target-{i:03d}"},
        }
        return {
            "apiVersion": "ray.io/v1",
            "kind": "RayJob",
            "metadata": {"name": f"job-{i:03d}"},
            "spec": spec,
        }

    await bounded(10, [client.create(jobs_path, rayjob(i)) for i in range(count)])
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        listing = await client.request("GET", jobs_path)
        states = [(j.get("status") or {}).get("jobDeploymentStatus") for j in listing.get("items") or []]
        if states.count("Running") == count:
            break
        await asyncio.sleep(2)
    say(f"{states.count('Running')}/{count} RayJobs Running, polling dashboards that do not answer")
    await asyncio.sleep(10)  # let the polls reach their steady state


async def main(args: argparse.Namespace, kubeconfig: Path) -> dict[str, Any]:
    async with session(kubeconfig, args, Path("/tmp/raykopf-bench-load.log")) as (
        client,
        operator,
    ):
        operator.extra = ("--use-kubernetes-proxy",)
        operator.start()
        await asyncio.sleep(3)
        quiet = await apply_and_time(client, operator, "bench-load-a", args.clusters)
        await start_rayjobs(client, args.rayjobs)
        busy = await apply_and_time(client, operator, "bench-load-b", args.clusters)
        say(
            f"RESULT head Pod p50 {quiet['head_p50_seconds']:.2f} -> {busy['head_p50_seconds']:.2f} s, "
            f"p95 {quiet['head_p95_seconds']:.2f} -> {busy['head_p95_seconds']:.2f} s, all Pods "
            f"{quiet['all_pods_seconds']:.1f} -> {busy['all_pods_seconds']:.1f} s "
            f"(without -> with {args.rayjobs} running RayJobs)"
        )
        for namespace in ("bench-load-a", "bench-load-b", JOBS_NS):
            say(f"{namespace} deleted in {await delete_namespace(client, namespace):.0f} s")
        return {"without_rayjobs": quiet, "with_rayjobs": busy}


def parse() -> argparse.Namespace:
    parser = argument_parser(__doc__)
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--rayjobs", type=int, default=100)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse(), ensure_cluster()))
