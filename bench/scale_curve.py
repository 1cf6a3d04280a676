"""Scale curve: the bulk run at 1,000, 3,000 and 10,000 RayClusters, raykopf and KubeRay at their defaults.

    python -m bench.scale_curve [--sizes 1000,3000,10000] [--workers 1] [--kuberay-limit 1800] [--only raykopf]

Each size is applied at once (as in `bench.bulk`) with each operator in turn, a fresh process and
namespace each time. RayClusters have 1 head + `--workers` workers (1 by default: 10,000 clusters are
20,000 Pods, within the simulated node's address range). A run that has not got every RayCluster
ready after `--kuberay-limit` seconds (KubeRay) or 3,600 s (raykopf) stops there and says how far it
got. Prints per size and operator: time to all ready, operator CPU per RayCluster, peak RSS, and the
growth from the smallest size (linear cost: CPU per RayCluster stays flat).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bench.bulk import Run, bulk_run, write_json
from bench.harness import ensure_cluster, say
from bench.operators import KubeRay, Measured, Raykopf, Settings
from raykopf.k8s.client import KubeClient
from raykopf_local.cluster import LocalCluster

RAYKOPF_LIMIT = 3600.0


def table(runs: list[Run]) -> str:
    lines = [
        "| RayClusters | operator | all ready (s) | RayClusters/s | CPU per RayCluster (ms) | peak RSS (MB) | RSS per 1,000 RayClusters (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        ready = f"{run.all_ready_s:.0f}" if run.all_ready_s else f"not all ({run.ready} ready)"
        rate = f"{run.clusters / run.all_ready_s:.1f}" if run.all_ready_s else "-"
        lines.append(
            f"| {run.clusters:,} | {run.operator} | {ready} | {rate} | {run.cpu_ms_per_cluster:.1f} | "
            f"{run.peak_rss_mb:.0f} | {1000 * run.peak_rss_mb / run.clusters:.0f} |"
        )
    return "\n".join(lines)


def growth(runs: list[Run]) -> list[str]:
    """Per operator: CPU per RayCluster at each size relative to the smallest (1.0 = linear cost)."""
    said = []
    for name in ("raykopf", "KubeRay"):
        mine = [r for r in runs if r.operator == name and r.all_ready_s]
        if len(mine) > 1:
            base = mine[0].cpu_ms_per_cluster
            steps = ", ".join(f"{r.clusters:,}: {r.cpu_ms_per_cluster / base:.2f}" for r in mine)
            said.append(f"{name}: CPU per RayCluster relative to {mine[0].clusters:,} RayClusters: {steps}")
    return said


async def main(args: argparse.Namespace, kubeconfig: Path) -> list[Run]:
    client = KubeClient.from_kubeconfig(kubeconfig)
    operators: list[tuple[Measured, float]] = [
        (Raykopf(kubeconfig, Path("/tmp/raykopf-bench-curve.log")), RAYKOPF_LIMIT),
        (KubeRay(LocalCluster()), args.kuberay_limit),
    ]
    runs: list[Run] = []
    try:
        for size in args.sizes:
            for operator, limit in operators:
                if args.only not in (None, operator.name):
                    continue
                say(f"{size:,} RayClusters with {operator.name}")
                namespace = f"curve-{operator.name.lower()}-{size}"
                runs.append(
                    await bulk_run(client, operator, Settings(), namespace, size, args.workers, timeout=limit)
                )
    finally:
        await client.close()
    print(table(runs), flush=True)
    for line in growth(runs):
        say(line)
    return runs


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=lambda t: [int(n) for n in t.split(",")], default=[1000, 3000, 10000])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--kuberay-limit", type=float, default=1800.0, help="seconds KubeRay gets per size")
    parser.add_argument("--only", choices=["raykopf", "KubeRay"], help="run one operator")
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    write_json(arguments.json, asyncio.run(main(arguments, ensure_cluster())))
