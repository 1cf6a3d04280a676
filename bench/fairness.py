"""Fairness: while one RayCluster scales from 0 to 500 workers, how soon does a newly applied RayCluster
get its head Pod?

    python -m bench.fairness [--workers 500] [--concurrency 10]

Prints the delay from applying the newcomer to its head Pod's arrival (target <= 2 s), how far the big
cluster's scale-up was at that moment, and how long the whole scale-up took. KubeRay's default
(`--reconcile-concurrency 1`) can be reproduced with `--concurrency 1`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from bench.harness import (
    PodClock,
    argument_parser,
    create_namespace,
    delete_namespace,
    ensure_cluster,
    raycluster,
    running,
    say,
    session,
)
from raykopf.k8s.client import KubeClient

NAMESPACE = "bench-fairness"
RAYCLUSTERS = f"/apis/ray.io/v1/namespaces/{NAMESPACE}/rayclusters"


async def state(client: KubeClient, name: str) -> str | None:
    found = await client.get(f"{RAYCLUSTERS}/{name}")
    return ((found or {}).get("status") or {}).get("state")


async def main(args: argparse.Namespace, kubeconfig: Path) -> dict[str, float]:
    async with session(kubeconfig, args, Path("/tmp/raykopf-bench-fairness.log")) as (
        client,
        operator,
    ):
        await create_namespace(client, NAMESPACE)
        operator.start()
        await client.create(RAYCLUSTERS, raycluster("big", NAMESPACE, 0))
        while await state(client, "big") != "ready":
            await asyncio.sleep(0.5)
        say("RayCluster big is ready with 0 workers")
        async with running(PodClock(client, NAMESPACE)) as clock:
            started = time.monotonic()
            patch = {
                "spec": {
                    "workerGroupSpecs": [
                        {**raycluster("big", NAMESPACE, args.workers)["spec"]["workerGroupSpecs"][0]}
                    ]
                }
            }
            await client.merge_patch(f"{RAYCLUSTERS}/big", patch)
            while sum(1 for n in clock.added if n.startswith("big-")) < args.head_start:
                await asyncio.sleep(0.01)
            applied = time.monotonic()
            await client.create(RAYCLUSTERS, raycluster("newcomer", NAMESPACE, 1))
            while not any(n.startswith("newcomer-head-") for n in clock.added):
                await asyncio.sleep(0.01)
            head = next(t for n, t in clock.added.items() if n.startswith("newcomer-head-"))
            big_then = sum(1 for n, t in clock.added.items() if n.startswith("big-") and t <= head)
            await clock.wait_added(args.workers + 2, 600)  # big's workers, newcomer's head and worker
            big_done = max(t for n, t in clock.added.items() if n.startswith("big-")) - started
        result = {
            "newcomer_head_seconds": head - applied,
            "big_workers_when_newcomer_head_created": big_then,
            "big_scale_up_seconds": big_done,
        }
        say(
            f"RESULT newcomer's head Pod {result['newcomer_head_seconds']:.2f} s after its apply (target <= 2 s), "
            f"while big had {big_then}/{args.workers} workers; big reached {args.workers} workers in {big_done:.1f} s "
            f"(reconcile concurrency {args.concurrency})"
        )
        say(f"namespace deleted in {await delete_namespace(client, NAMESPACE):.0f} s")
        return result


def parse() -> argparse.Namespace:
    parser = argument_parser(__doc__)
    parser.add_argument("--workers", type=int, default=500)
    parser.add_argument(
        "--head-start", type=int, default=20, help="apply the newcomer once big has this many new Pods"
    )
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    asyncio.run(main(arguments, ensure_cluster()))
