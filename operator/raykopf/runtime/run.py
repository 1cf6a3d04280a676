"""`raykopf run`: kopf delivers events into work queues; workers reconcile."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from pathlib import Path
from typing import Any

import kopf
import yaml

from raykopf.config import OperatorConfig
from raykopf.controller import handlers
from raykopf.controller.raycluster import RayClusterReconciler
from raykopf.controller.workqueue import WorkQueue
from raykopf.k8s.client import KubeClient

log = logging.getLogger("raykopf")


def connection_info(kubeconfig: Path) -> kopf.ConnectionInfo:
    config = yaml.safe_load(kubeconfig.read_text())
    context = next(c["context"] for c in config["contexts"] if c["name"] == config["current-context"])
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
    return kopf.ConnectionInfo(
        server=cluster["server"],
        ca_data=base64.b64decode(cluster["certificate-authority-data"]),
        certificate_data=base64.b64decode(user["client-certificate-data"])
        if "client-certificate-data" in user
        else None,
        private_key_data=base64.b64decode(user["client-key-data"]) if "client-key-data" in user else None,
        token=user.get("token"),
    )


async def run(
    *,
    kubeconfig: Path,
    namespaces: list[str],
    concurrency: int,
    config: OperatorConfig,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    client = KubeClient.from_kubeconfig(kubeconfig)
    reconciler = RayClusterReconciler(client, config)

    async def reconcile(key: Any) -> float | None:
        return await reconciler.reconcile(key)

    queue = WorkQueue(
        reconcile, concurrency=concurrency, resync_seconds=float(config.raycluster_default_requeue_seconds)
    )
    registry = kopf.OperatorRegistry()
    handlers.register(registry, queue)

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return connection_info(kubeconfig)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.enabled = False  # events are ours, with KubeRay's reasons
        settings.watching.server_timeout = 300

    stop_flag = stop or asyncio.Event()
    workers = asyncio.create_task(queue.run())
    try:
        await kopf.operator(
            registry=registry,
            standalone=True,
            clusterwide=not namespaces,
            namespaces=namespaces,
            stop_flag=stop_flag,
            ready_flag=ready,
        )
    finally:
        workers.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await workers
        await client.close()
