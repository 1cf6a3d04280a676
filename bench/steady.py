"""Steady state: 1,000 ready RayClusters and no changes for 5 minutes; what does each operator cost?
raykopf and KubeRay one after the other, each at its defaults, each with a fresh process and namespace.

    python -m bench.steady [--clusters 1000] [--workers 3] [--minutes 5] [--only raykopf|KubeRay]

The RayClusters are applied and waited for (`ready`), then `--settle` seconds pass, then the window
starts. Prints per operator and minute of the window: its CPU seconds, its own API requests (by
method), RayCluster status writes the apiserver saw (no change, so every one is needless), and all the
apiserver's requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import (
    ReadyClock,
    apiserver_counters,
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


def _delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v > before.get(k, 0.0)}


async def one(client: KubeClient, operator: Measured, args: argparse.Namespace) -> dict[str, Any]:
    namespace = f"steady-{operator.name.lower()}"
    path = f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    await create_namespace(client, namespace)
    operator.start([namespace], Settings())
    try:
        async with running(ReadyClock(client, namespace)) as ready:
            bodies = [raycluster(f"rc-{i:05d}", namespace, args.workers) for i in range(args.clusters)]
            await bounded(50, [client.create(path, body) for body in bodies])
            deadline = time.monotonic() + 1800
            while len(ready.ready) < args.clusters and time.monotonic() < deadline:
                await asyncio.sleep(1)
        say(f"{operator.name}: {len(ready.ready)}/{args.clusters} ready; settling for {args.settle:.0f} s")
        await asyncio.sleep(args.settle)
        cpu, mine, server = operator.cpu_seconds, operator.api_requests(), await apiserver_counters(client)
        started = time.monotonic()
        await asyncio.sleep(60 * args.minutes)  # the window: nothing changes, by design
        minutes = (time.monotonic() - started) / 60
        cpu = operator.cpu_seconds - cpu
        mine = _delta(operator.api_requests(), mine)
        server = _delta(await apiserver_counters(client), server)
        rss = operator.rss_mb
    finally:
        operator.stop()
    say(f"namespace {namespace} deleted in {await delete_namespace(client, namespace):.0f} s")
    status_writes = sum(v for k, v in server.items() if k.endswith("rayclusters/status"))
    return {
        "cpu_seconds_per_minute": cpu / minutes,
        "requests_per_minute": {k: v / minutes for k, v in mine.items()},
        "status_writes_per_minute": status_writes / minutes,
        "apiserver_requests_per_minute": sum(v for k, v in server.items() if k.startswith("requests "))
        / minutes,
        "apiserver_by_request_per_minute": {
            k: v / minutes
            for k, v in sorted(server.items(), key=lambda kv: -kv[1])
            if k.startswith("requests ")
        },
        "rss_mb": rss,
    }


async def main(args: argparse.Namespace, kubeconfig: Path) -> dict[str, Any]:
    results = await each_operator(
        kubeconfig,
        args.only,
        lambda client, operator: one(client, operator, args),
        log=Path("/tmp/raykopf-bench-steady.log"),
    )
    print(
        f"| {args.clusters} ready RayClusters, {args.minutes:g} min without changes | "
        + " | ".join(results)
        + " |"
    )
    print("|---|" + "---|" * len(results))
    rows: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
        ("operator CPU (s per minute)", lambda r: f"{r['cpu_seconds_per_minute']:.2f}"),
        ("operator API requests per minute", lambda r: f"{sum(r['requests_per_minute'].values()):.0f}"),
        (
            "  by method",
            lambda r: " ".join(f"{k} {v:.0f}" for k, v in sorted(r["requests_per_minute"].items())) or "none",
        ),
        ("RayCluster status writes per minute", lambda r: f"{r['status_writes_per_minute']:.0f}"),
        (
            "apiserver requests per minute (all clients)",
            lambda r: f"{r['apiserver_requests_per_minute']:.0f}",
        ),
        ("operator RSS (MB)", lambda r: f"{r['rss_mb']:.0f}"),
    )
    for name, cell in rows:
        print(f"| {name} | " + " | ".join(cell(r) for r in results.values()) + " |")
    for name, result in results.items():
        busiest = list(result["apiserver_by_request_per_minute"].items())[:8]
        say(f"{name}: apiserver requests per minute: " + ", ".join(f"{k[9:]} {v:.0f}" for k, v in busiest))
    return results


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--settle", type=float, default=30.0, help="seconds between all ready and the window")
    parser.add_argument("--only", choices=("raykopf", "KubeRay"), help="run one operator only")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    measured = asyncio.run(main(arguments, ensure_cluster()))
    if arguments.json:
        arguments.json.write_text(json.dumps(measured, indent=2))
