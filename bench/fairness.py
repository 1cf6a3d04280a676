"""Fairness: while one RayCluster scales from 0 to 500 workers, how soon does a newly applied RayCluster
get its head Pod? raykopf and KubeRay one after the other, each at its defaults.

    python -m bench.fairness [--workers 500] [--only raykopf|KubeRay] [--concurrency N]

Prints, per operator, the delay from applying the newcomer to its head Pod's arrival (target for
raykopf: <= 1 s), how far the big cluster's scale-up was at that moment, and how long the whole
scale-up took. `--concurrency` gives both operators that many reconciles at once instead of their
defaults (raykopf 10, KubeRay 1).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from bench.harness import (
    PodClock,
    create_namespace,
    delete_namespace,
    ensure_cluster,
    raycluster,
    running,
    say,
)
from bench.operators import DEFAULTS, Measured, Settings, each_operator
from raykopf.k8s.client import KubeClient


async def state(client: KubeClient, path: str) -> str | None:
    found = await client.get(path)
    return ((found or {}).get("status") or {}).get("state")


async def one(
    client: KubeClient, operator: Measured, settings: Settings, args: argparse.Namespace
) -> dict[str, float]:
    namespace = f"fairness-{operator.name.lower()}"
    rayclusters = f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    await create_namespace(client, namespace)
    operator.start([namespace], settings)
    try:
        await client.create(rayclusters, raycluster("big", namespace, 0))
        while await state(client, f"{rayclusters}/big") != "ready":
            await asyncio.sleep(0.5)
        say(f"{operator.name}: RayCluster big is ready with 0 workers")
        async with running(PodClock(client, namespace)) as clock:
            started = time.monotonic()
            group = raycluster("big", namespace, args.workers)["spec"]["workerGroupSpecs"][0]
            await client.merge_patch(f"{rayclusters}/big", {"spec": {"workerGroupSpecs": [group]}})
            while sum(1 for n in clock.added if n.startswith("big-")) < args.head_start:
                await asyncio.sleep(0.01)
            applied = time.monotonic()
            await client.create(rayclusters, raycluster("newcomer", namespace, 1))
            while not any(n.startswith("newcomer-head-") for n in clock.added):
                await asyncio.sleep(0.01)
            head = next(t for n, t in clock.added.items() if n.startswith("newcomer-head-"))
            big_then = sum(1 for n, t in clock.added.items() if n.startswith("big-") and t <= head)
            await clock.wait_added(args.workers + 2, 600)  # big's workers, newcomer's head and worker
            big_done = max(t for n, t in clock.added.items() if n.startswith("big-")) - started
    finally:
        operator.stop()
    say(f"namespace {namespace} deleted in {await delete_namespace(client, namespace):.0f} s")
    return {
        "newcomer_head_seconds": head - applied,
        "big_workers_when_newcomer_head_created": big_then,
        "big_scale_up_seconds": big_done,
    }


async def main(args: argparse.Namespace, kubeconfig: Path) -> dict[str, dict[str, float]]:
    settings = Settings() if args.concurrency is None else Settings(concurrency=args.concurrency)
    results = await each_operator(
        kubeconfig,
        args.only,
        lambda client, operator: one(client, operator, settings, args),
        log=Path("/tmp/raykopf-bench-fairness.log"),
    )
    print(
        f"| operator (reconciles at once) | newcomer's head Pod after its apply (s) | big's workers by then | big's {args.workers} workers (s) |"
    )
    print("|---|---|---|---|")
    for name, result in results.items():
        concurrency = settings.concurrency or DEFAULTS[name].concurrency
        print(
            f"| {name} ({concurrency}) | {result['newcomer_head_seconds']:.2f} | "
            f"{result['big_workers_when_newcomer_head_created']:.0f}/{args.workers} | {result['big_scale_up_seconds']:.1f} |"
        )
    return results


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=500)
    parser.add_argument("--only", choices=("raykopf", "KubeRay"), help="run one operator only")
    parser.add_argument(
        "--concurrency", type=int, help="reconciles at once for both (default: each one's own)"
    )
    parser.add_argument(
        "--head-start", type=int, default=20, help="apply the newcomer once big has this many new Pods"
    )
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    asyncio.run(main(arguments, ensure_cluster()))
