"""What the admission webhook adds to an apply: the same server-side dry-run creates of a RayCluster
(through the whole admission chain; nothing is stored) with and without raykopf's webhook registered,
sequentially, each timed from the client. Prints p50/p95/p99 of both and the difference.

    python -m bench.webhook [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.harness import create_namespace, delete_namespace, ensure_cluster, say
from bench.operators import Raykopf, Settings
from raykopf.k8s.client import ApiError, KubeClient
from raykopf.k8s.webhook_certs import CONFIGURATIONS, make_certificate

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "bench-webhook"
ADDRESS = "127.0.0.1:19543"
CONFIGURATION = "raykopf-bench-webhook"


def configuration(ca: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": CONFIGURATION},
        "webhooks": [
            {
                "name": "vraycluster.kb.io",
                "admissionReviewVersions": ["v1"],
                "clientConfig": {
                    "url": f"https://{ADDRESS}/validate-ray-io-v1-raycluster",
                    "caBundle": base64.b64encode(ca).decode(),
                },
                "rules": [
                    {
                        "apiGroups": ["ray.io"],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["rayclusters"],
                    }
                ],
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "timeoutSeconds": 5,
                "namespaceSelector": {
                    "matchExpressions": [
                        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": [NAMESPACE]}
                    ]
                },
            }
        ],
    }


def sample() -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load(
        (ROOT / "manifests" / "samples" / "raycluster.sample.yaml").read_text()
    )
    return body


async def dry_run(client: KubeClient, body: dict[str, Any]) -> tuple[float, bool]:
    """Seconds one dry-run create took, and whether it was admitted."""
    started = time.perf_counter()
    try:
        await client.request(
            "POST", f"/apis/ray.io/v1/namespaces/{NAMESPACE}/rayclusters", body=body, params={"dryRun": "All"}
        )
        admitted = True
    except ApiError as error:
        if error.status != 422 or "vraycluster.kb.io" not in error.message:
            raise
        admitted = False
    return time.perf_counter() - started, admitted


async def series(client: KubeClient, body: dict[str, Any], count: int) -> list[float]:
    return [(await dry_run(client, body))[0] for _ in range(count)]


def quantiles(samples: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[94] * 1000, cuts[98] * 1000


async def measure(kubeconfig: Path, count: int) -> None:
    client = KubeClient.from_kubeconfig([kubeconfig])
    folder = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    made = make_certificate(["127.0.0.1"])
    made.write(folder)
    operator = Raykopf(
        kubeconfig,
        folder / "raykopf.log",
        extra=(f"--webhook-addr={ADDRESS}", f"--webhook-cert-dir={folder}"),
    )
    valid = sample()
    invalid = copy.deepcopy(valid)
    invalid["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    rows: dict[str, list[float]] = {}
    try:
        await create_namespace(client, NAMESPACE)
        rows["no webhook, valid"] = await series(client, valid, count)
        operator.start([NAMESPACE], Settings())
        await client.create(CONFIGURATIONS, configuration(made.ca))
        deadline = time.monotonic() + 30  # the apiserver reads new configurations from its informer
        while (await dry_run(client, invalid))[1]:
            if time.monotonic() > deadline:
                raise SystemExit("the apiserver never called the webhook")
            await asyncio.sleep(0.2)
        rows["webhook, valid (admitted)"] = await series(client, valid, count)
        rows["webhook, invalid (refused)"] = await series(client, invalid, count)
    finally:
        await client.delete(f"{CONFIGURATIONS}/{CONFIGURATION}")
        operator.stop()
        await delete_namespace(client, NAMESPACE)
        await client.close()
    base = quantiles(rows["no webhook, valid"])
    print(f"\nserver-side dry-run creates of the sample RayCluster, {count} each, one at a time (ms)")
    print(f"{'':<30}{'p50':>8}{'p95':>8}{'p99':>8}")
    for label, samples in rows.items():
        p50, p95, p99 = quantiles(samples)
        print(f"{label:<30}{p50:>8.1f}{p95:>8.1f}{p99:>8.1f}")
    p50, p95, _ = quantiles(rows["webhook, valid (admitted)"])
    print(f"{'added by the webhook':<30}{p50 - base[0]:>8.1f}{p95 - base[1]:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    kubeconfig = ensure_cluster()
    say("measuring")
    asyncio.run(measure(kubeconfig, args.requests))


if __name__ == "__main__":
    main()
