"""`raykopf run`: kopf delivers events into work queues; workers reconcile."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kopf
import yaml

from raykopf import constants as c
from raykopf.config import OperatorConfig
from raykopf.controller import handlers
from raykopf.controller.raycluster import RayClusterReconciler
from raykopf.controller.rayjob import RayJobReconciler
from raykopf.controller.rayservice import RayServiceReconciler
from raykopf.controller.workqueue import WorkQueue
from raykopf.k8s.client import KubeClient
from raykopf.k8s.dashboard import Dashboard, DirectTransport, JobTracker, ProxyTransport
from raykopf.k8s.events import EventRecorder
from raykopf.k8s.informer import Informer
from raykopf.k8s.objects import collection
from raykopf.k8s.raycluster import ClusterIO
from raykopf.k8s.serve import ServeTracker
from raykopf.reconcile.pods import slim_job, slim_pod, slim_service

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
    resync = float(config.raycluster_default_requeue_seconds)

    async def reconcile_cluster(key: Any) -> float | None:
        return await clusters.reconcile(key)

    async def reconcile_job(key: Any) -> float | None:
        return await rayjobs.reconcile(key)

    async def reconcile_service(key: Any) -> float | None:
        return await rayservices.reconcile(key)

    # One queue per kind: RayJobs waiting on dashboards never hold up RayClusters, and the reverse.
    cluster_queue = WorkQueue(reconcile_cluster, concurrency=concurrency, resync_seconds=resync)
    job_queue = WorkQueue(reconcile_job, concurrency=concurrency, resync_seconds=resync)
    service_queue = WorkQueue(reconcile_service, concurrency=concurrency, resync_seconds=resync)

    def cluster_changed(namespace: str, cluster: str) -> None:
        rayjob = rayjobs.rayjob_of(namespace, cluster)
        if rayjob is not None:
            job_queue.add(rayjob)
        rayservice = rayservices.owner_of(namespace, cluster)
        if rayservice is not None:
            service_queue.add(rayservice)

    def child_changed(namespace: str, cluster: str) -> None:
        cluster_queue.add((namespace, cluster))
        cluster_changed(namespace, cluster)

    pods, services, jobs = _child_caches(
        client, namespaces, child_changed, lambda ns, owner: job_queue.add((ns, owner))
    )
    events = EventRecorder(client)
    clusters = RayClusterReconciler(client, ClusterIO(client, pods, services, events), config)
    transport = (
        ProxyTransport(KubeClient.from_kubeconfig(kubeconfig))
        if config.use_kubernetes_proxy
        else DirectTransport()
    )
    dashboard = Dashboard(transport)
    tracker = JobTracker(dashboard, job_queue.add)
    rayjobs = RayJobReconciler(client, events, clusters.bodies, pods, services, jobs, tracker, config)
    serve = ServeTracker(dashboard, service_queue.add, lambda *rejection: rayservices.rejected(*rejection))
    rayservices = RayServiceReconciler(client, events, clusters.bodies, pods, services, serve, config)
    registry = kopf.OperatorRegistry()
    handlers.register(
        registry,
        raycluster_queue=cluster_queue,
        rayclusters=clusters.bodies,
        rayjob_queue=job_queue,
        rayjobs=rayjobs.bodies,
        rayservice_queue=service_queue,
        rayservices=rayservices.bodies,
        cluster_changed=cluster_changed,
    )

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return connection_info(kubeconfig)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.enabled = False  # events are ours, with KubeRay's reasons
        settings.watching.server_timeout = 300

    stop_flag = stop or asyncio.Event()
    background = [asyncio.create_task(t.run()) for t in (pods, services, jobs, events)]

    async def work_when_synced() -> None:
        # Reconciling from a half-filled cache would create Pods that already exist.
        for cache in (pods, services, jobs):
            await cache.synced.wait()
        await asyncio.gather(cluster_queue.run(), job_queue.run(), service_queue.run())

    workers = asyncio.create_task(work_when_synced())
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
        await events.flush()
        await serve.close()
        await tracker.close()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await client.close()


def _child_caches(
    client: KubeClient,
    namespaces: list[str],
    cluster_changed: Callable[[str, str], None],
    rayjob_changed: Callable[[str, str], None],
) -> tuple[Informer, Informer, Informer]:
    def paths(kind: str, everywhere: str) -> list[str]:
        return [collection(kind, ns) for ns in namespaces] if namespaces else [everywhere]

    # Only Ray Pods, head Services and submitter Jobs, so that memory and work grow with Ray, not with
    # the whole cluster.
    pods = Informer(
        client,
        paths("Pod", "/api/v1/pods"),
        selector=f"{c.RAY_NODE_TYPE_LABEL},{c.RAY_CLUSTER_LABEL}",
        index_label=c.RAY_CLUSTER_LABEL,
        slim=slim_pod,
        on_change=cluster_changed,
    )
    services = Informer(
        client,
        paths("Service", "/api/v1/services"),
        selector=c.RAY_CLUSTER_LABEL,
        index_label=c.RAY_CLUSTER_LABEL,
        slim=slim_service,
        on_change=cluster_changed,
    )
    jobs = Informer(
        client,
        paths("Job", "/apis/batch/v1/jobs"),
        selector=f"{c.RAY_ORIGINATED_FROM_CRD_LABEL}=RayJob",
        index_label=c.RAY_ORIGINATED_FROM_CR_NAME_LABEL,
        slim=slim_job,
        on_change=rayjob_changed,
    )
    return pods, services, jobs
