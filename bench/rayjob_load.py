"""Busy RayJobs: do running RayJobs slow RayCluster reconciliation down? raykopf and KubeRay one after
the other, each at its defaults (KubeRay calls each RayJob's dashboard inside its reconcile).

    python -m bench.rayjob_load [--clusters 200] [--rayjobs 100] [--only raykopf|KubeRay]

Per operator (a fresh process, its own namespaces):
1. `--clusters` RayClusters (head + 1 worker, simulated nodes) are applied with no RayJob around; we
   time each head Pod's arrival and each RayCluster's `ready` after its apply, and the last Pod's.
2. `--rayjobs` RayJobs (HTTPMode) are put on `--rayjobs` ready RayClusters via clusterSelector and wait
   in Running, their dashboards unreachable (simulated Pods run nothing): the worst case, every poll
   waits for a timeout. Both operators go through the apiserver (`--use-kubernetes-proxy`).
3. Step 1 again, in a new namespace, with those RayJobs running.
Prints one table: p50/p95 to head Pod and to ready, without and with the RayJobs (target for raykopf:
p95 with them within 10% of without).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

from bench.harness import (
    PodClock,
    ReadyClock,
    bounded,
    create_namespace,
    delete_namespace,
    ensure_cluster,
    raycluster,
    running,
    say,
)
from bench.operators import Measured, Settings, each_operator
from raykopf.k8s.client import KubeClient


def rayclusters(namespace: str) -> str:
    return f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters"


def percentiles(delays: list[float]) -> tuple[float, float]:
    ordered = sorted(delays)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


async def apply_and_time(
    client: KubeClient, operator: Measured, namespace: str, clusters: int
) -> dict[str, float]:
    await create_namespace(client, namespace)
    names = [f"rc-{i:04d}" for i in range(clusters)]
    applied: dict[str, float] = {}
    cpu_before = operator.cpu_seconds

    async def apply(name: str) -> None:
        await client.create(rayclusters(namespace), raycluster(name, namespace, 1))
        applied[name] = time.monotonic()

    async with running(PodClock(client, namespace)) as clock, running(ReadyClock(client, namespace)) as ready:
        started = time.monotonic()
        await bounded(10, [apply(n) for n in names])
        await clock.wait_added(2 * clusters, 600)
        deadline = time.monotonic() + 600
        while len(ready.ready) < clusters and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        heads = [
            max(
                next(t for pod, t in clock.added.items() if pod.startswith(f"{name}-head-")) - applied[name],
                0.0,
            )
            for name in names
        ]
        readies = [ready.ready[name] - applied[name] for name in names if name in ready.ready]
        head_p50, head_p95 = percentiles(heads)
        ready_p50, ready_p95 = percentiles(readies)
        result = {
            "all_pods_seconds": max(clock.added.values()) - started,
            "head_p50_seconds": head_p50,
            "head_p95_seconds": head_p95,
            "ready_p50_seconds": ready_p50,
            "ready_p95_seconds": ready_p95,
            "ready": len(readies),
            "operator_cpu_seconds": operator.cpu_seconds - cpu_before,
        }
    say(
        f"{namespace}: {2 * clusters} Pods in {result['all_pods_seconds']:.1f} s; head Pod after apply "
        f"p50 {head_p50:.2f} s, p95 {head_p95:.2f} s; ready p50 {ready_p50:.2f} s, p95 {ready_p95:.2f} s "
        f"({len(readies)}/{clusters}); operator CPU {result['operator_cpu_seconds']:.1f} s"
    )
    return result


async def start_rayjobs(client: KubeClient, namespace: str, count: int) -> None:
    await create_namespace(client, namespace)
    await bounded(
        10,
        [
            client.create(rayclusters(namespace), raycluster(f"target-{i:03d}", namespace, 0))
            for i in range(count)
        ],
    )
    jobs_path = f"/apis/ray.io/v1/namespaces/{namespace}/rayjobs"

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


async def one(client: KubeClient, operator: Measured, args: argparse.Namespace) -> dict[str, Any]:
    prefix = f"load-{operator.name.lower()}"
    quiet_ns, jobs_ns, busy_ns = f"{prefix}-a", f"{prefix}-jobs", f"{prefix}-b"
    operator.start([quiet_ns, jobs_ns, busy_ns], Settings())
    try:
        quiet = await apply_and_time(client, operator, quiet_ns, args.clusters)
        await start_rayjobs(client, jobs_ns, args.rayjobs)
        busy = await apply_and_time(client, operator, busy_ns, args.clusters)
        # While the operator runs: it removes its RayJobs' finalizers.
        for namespace in (quiet_ns, busy_ns, jobs_ns):
            say(f"{namespace} deleted in {await delete_namespace(client, namespace):.0f} s")
    finally:
        operator.stop()
    return {"without_rayjobs": quiet, "with_rayjobs": busy}


async def main(args: argparse.Namespace, kubeconfig: Path) -> dict[str, Any]:
    results = await each_operator(
        kubeconfig,
        args.only,
        lambda client, operator: one(client, operator, args),
        log=Path("/tmp/raykopf-bench-load.log"),
        raykopf_flags=("--use-kubernetes-proxy",),  # the KubeRay peer always has it
    )
    print(
        f"| operator | {args.clusters} RayClusters | head Pod p50 / p95 (s) | ready p50 / p95 (s) | all Pods (s) | operator CPU (s) |"
    )
    print("|---|---|---|---|---|---|")
    for name, result in results.items():
        for label, key in (
            ("alone", "without_rayjobs"),
            (f"with {args.rayjobs} running RayJobs", "with_rayjobs"),
        ):
            r = result[key]
            print(
                f"| {name} | {label} | {r['head_p50_seconds']:.2f} / {r['head_p95_seconds']:.2f} | "
                f"{r['ready_p50_seconds']:.2f} / {r['ready_p95_seconds']:.2f} | {r['all_pods_seconds']:.1f} | "
                f"{r['operator_cpu_seconds']:.1f} |"
            )
        ratio = result["with_rayjobs"]["ready_p95_seconds"] / result["without_rayjobs"]["ready_p95_seconds"]
        say(f"{name}: ready p95 with the RayJobs / without: {ratio:.2f}")
    return results


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=("raykopf", "KubeRay"), help="run one operator only")
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--rayjobs", type=int, default=100)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse(), ensure_cluster()))
