"""`raykopf run`: kopf delivers events into work queues; workers reconcile."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import signal
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import aiohttp
import kopf

from raykopf import constants as c
from raykopf.config import OperatorConfig, pod_name
from raykopf.controller import handlers
from raykopf.controller.raycluster import RayClusterReconciler
from raykopf.controller.rayjob import RayJobReconciler
from raykopf.controller.rayservice import RayServiceReconciler
from raykopf.controller.workqueue import WorkQueue
from raykopf.k8s.client import SERVICE_ACCOUNT, KubeClient, RateLimit
from raykopf.k8s.credentials import RENEW_BEFORE, CredentialError, Credentials
from raykopf.k8s.dashboard import Dashboard, DirectTransport, JobTracker, ProxyTransport
from raykopf.k8s.events import EventRecorder
from raykopf.k8s.executor import Cache, Executor
from raykopf.k8s.informer import Informer
from raykopf.k8s.leader import LeaderElector, LostLeadership, RivalGuard, RivalOperator
from raykopf.k8s.objects import collection
from raykopf.k8s.serve import ServeTracker
from raykopf.k8s.store import LatestStore
from raykopf.reconcile.pods import slim_job, slim_pod, slim_service
from raykopf.runtime.admission import WebhookOptions, serve_admission, wait_listening
from raykopf.runtime.serving import OperatorMetrics, Readiness, health_routes, metrics_routes, serve
from raykopf.validation import Gates

log = logging.getLogger("raykopf")
Key = tuple[str, str]  # (namespace, name): what the work queues hold


def kopf_session(credentials: Credentials) -> kopf.AiohttpSession:
    """kopf's connection from the operator's own credentials: the same TLS context (CA, client
    certificate, `tls-server-name`), Authorization header and proxy as raykopf's client."""
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, ssl=credentials.ssl_context),
        headers=credentials.headers(),
        proxy=credentials.proxy,
    )
    expires = None
    if credentials.expires is not None:  # kopf logs in again at this time
        expires = datetime.datetime.fromtimestamp(credentials.expires - RENEW_BEFORE, datetime.UTC)
    return kopf.AiohttpSession(aiohttp_session=session, server=credentials.server, expiration=expires)


def kopf_login(client: KubeClient) -> Callable[..., Awaitable[kopf.AiohttpSession]]:
    """kopf's login handler for one kopf instance: the operator's credentials at start, renewed ones
    at the expiry given and after a 401. A coroutine function: kopf runs anything else in a thread."""
    given: list[Credentials] = []

    async def login(**_: Any) -> kopf.AiohttpSession:
        credentials = client.credentials
        given.append(await (credentials.renew(given[-1]) if given else credentials.current()))
        del given[:-1]
        return kopf_session(given[-1])

    return login


@dataclass(frozen=True)
class RunOptions:
    """`raykopf run`'s flags, with KubeRay's defaults (reference §3.1)."""

    kubeconfig: list[Path] | None = None  # merged in order; None: in-cluster (the Pod's service account)
    context: str | None = None  # the kubeconfig's context; None: its current-context
    namespaces: list[str] = field(default_factory=list)
    concurrency: int = 10
    leader_election: bool = True
    leader_election_namespace: str = ""
    allow_other_operators: bool = False
    enable_metrics: bool = False
    metrics_addr: str = ":8080"
    health_addr: str = ":8082"
    qps: float = 100
    burst: int = 200
    webhook: WebhookOptions | None = None  # None: no admission webhook


def kube_client(options: RunOptions, rate: RateLimit | None = None) -> KubeClient:
    if options.kubeconfig:
        return KubeClient.from_kubeconfig(options.kubeconfig, rate, context=options.context)
    return KubeClient.in_cluster(rate)


def lease_namespace(options: RunOptions) -> str:
    """The flag, else the Pod's own namespace (as KubeRay in a cluster), else `default`."""
    return options.leader_election_namespace or own_namespace(in_cluster=options.kubeconfig is None)


def own_namespace(*, in_cluster: bool) -> str:
    """The operator Pod's namespace; `default` outside a cluster."""
    own = SERVICE_ACCOUNT / "namespace"
    return own.read_text().strip() if in_cluster and own.exists() else "default"


WEBHOOK_DRAIN_SECONDS = 5.0  # the webhook keeps answering after a stop while the endpoints catch up

# The apiserver accepts JSON nested up to 10,000 levels (Go's encoding/json); Python's json, copy and
# pydantic count each level against the interpreter's recursion limit, 1,000 by default. At that
# default, one such object of any tenant makes kopf's watch raise while it decodes the listing, at
# every start. Validation then refuses the object (MAX_DEPTH) before the rules recurse through it.
RECURSION_LIMIT = 25_000


def allow_apiserver_depth() -> None:
    """Let the operator decode, copy and encode any object the apiserver accepts."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), RECURSION_LIMIT))


async def run(
    options: RunOptions,
    config: OperatorConfig,
    *,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Serve the probes (and metrics), wait for the Lease if elected, then operate until stopped."""
    allow_apiserver_depth()
    client = kube_client(options, RateLimit(options.qps, options.burst))
    try:  # a missing file or context, a failing plugin: said at once, in one line
        await client.credentials.current()
    except CredentialError as error:
        raise RuntimeError(str(error)) from error
    stop_flag = stop or asyncio.Event()
    readiness, metrics = Readiness(), OperatorMetrics()
    client.observe = metrics.count_request
    loop = asyncio.get_running_loop()

    def take_signals() -> None:  # kopf installs its own whenever an instance starts
        for number in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(number, stop_flag.set)

    take_signals()
    runners = []
    if options.health_addr not in ("", "0"):  # "0" turns an endpoint off, as in controller-runtime
        runners.append(await serve(health_routes(readiness), options.health_addr))
    if options.enable_metrics and options.metrics_addr not in ("", "0"):
        runners.append(await serve(metrics_routes(metrics), options.metrics_addr))
    admission, admission_stop = None, asyncio.Event()
    if options.webhook is not None:
        # On every replica, leader or not: the apiserver calls whichever the Service picks. It stops
        # last, after a drain (see below), so it has its own stop flag.
        admission = asyncio.create_task(
            serve_admission(
                client,
                options.webhook,
                Gates.of(config),
                config.cluster_domain,
                kopf_login(client),
                admission_stop,
            )
        )
        # It ends early only on an error: then the operator stops too.
        admission.add_done_callback(lambda _: stop_flag.set())
    elector = None
    identity = f"{pod_name()}_{uuid.uuid4()}"
    if options.leader_election:
        # Its own client, as controller-runtime's: renewals never queue behind a burst of Pod creates
        # in the rate limiter (a late renewal would cost the Lease).
        elector = LeaderElector(
            client.sharing_credentials(), lease_namespace(options), identity, watches=options.namespaces
        )
    guard = (
        None
        if options.allow_other_operators
        else RivalGuard(client, lease_namespace(options), options.namespaces, identity)
    )
    try:
        if admission is not None and options.webhook is not None:
            # Ready (so in the Service's endpoints) only once the webhook answers.
            await wait_listening(options.webhook.address, stop_flag)
            take_signals()  # back from the admission kopf, which would stop at once, without the drain
        if elector is not None:
            readiness.state = "standby"
            if not await elector.acquire(stop_flag):
                return
        if guard is not None:

            def blocked() -> None:
                readiness.state = "conflict"  # not ready while another operator leads

            if not await guard.wait_clear(stop_flag, blocked):
                return
        readiness.state = "starting"
        await operate(client, options, config, stop_flag, ready, readiness, metrics, elector, guard)
    finally:
        readiness.state = "stopping"
        stop_flag.set()
        if elector is not None:
            await elector.release()
            await elector.client.close()
        if admission is not None:
            if not admission.done():
                # Not ready any more, so the Service drops this Pod; until every proxy knows, the
                # apiserver may still send requests here: answer them for a moment more.
                await asyncio.sleep(WEBHOOK_DRAIN_SECONDS)
            admission_stop.set()
            await asyncio.gather(admission, return_exceptions=True)
        for runner in runners:
            await runner.cleanup()
        await client.close()
    if admission is not None and not admission.cancelled() and admission.exception() is not None:
        raise RuntimeError(f"webhook: {admission.exception()}") from admission.exception()


async def operate(
    client: KubeClient,
    options: RunOptions,
    config: OperatorConfig,
    stop_flag: asyncio.Event,
    ready: asyncio.Event | None,
    readiness: Readiness,
    metrics: OperatorMetrics,
    elector: LeaderElector | None,
    guard: RivalGuard | None = None,
) -> None:
    namespaces, concurrency = options.namespaces, options.concurrency
    resync = float(config.raycluster_default_requeue_seconds)

    async def reconcile_cluster(key: Any) -> float | None:
        return await clusters.reconcile(key)

    async def reconcile_job(key: Any) -> float | None:
        return await rayjobs.reconcile(key)

    async def reconcile_service(key: Any) -> float | None:
        return await rayservices.reconcile(key)

    # One queue per kind: RayJobs waiting on dashboards never hold up RayClusters, and the reverse.
    # A failed pass is told on its object (an Event and its status); the next clean pass takes the
    # status back.
    cluster_queue = WorkQueue(
        metrics.timed("RayCluster", reconcile_cluster),
        concurrency=concurrency,
        resync_seconds=resync,
        on_failure=lambda key, error: clusters.report_failure(cast(Key, key), error),
        on_success=lambda key: clusters.clear_failure(cast(Key, key)),
    )
    job_queue = WorkQueue(
        metrics.timed("RayJob", reconcile_job),
        concurrency=concurrency,
        resync_seconds=resync,
        on_failure=lambda key, error: rayjobs.report_failure(cast(Key, key), error),
        on_success=lambda key: rayjobs.clear_failure(cast(Key, key)),
    )
    service_queue = WorkQueue(
        metrics.timed("RayService", reconcile_service),
        concurrency=concurrency,
        resync_seconds=resync,
        on_failure=lambda key, error: rayservices.report_failure(cast(Key, key), error),
        on_success=lambda key: rayservices.clear_failure(cast(Key, key)),
    )

    metrics.add_controller("RayCluster", concurrency, lambda: cluster_queue.depth)
    metrics.add_controller("RayJob", concurrency, lambda: job_queue.depth)
    metrics.add_controller("RayService", concurrency, lambda: service_queue.depth)

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
    # The latest body of each ray.io object: from kopf's events and the operator's own writes.
    bodies = {kind: LatestStore() for kind in ("RayCluster", "RayJob", "RayService")}
    caches: dict[str, Cache] = {"Pod": pods, "Service": services, "Job": jobs, **bodies}
    executor = Executor(client, events, caches)
    clusters = RayClusterReconciler(client, executor, pods, services, config, bodies["RayCluster"])
    transport = (
        ProxyTransport(client.sharing_credentials()) if config.use_kubernetes_proxy else DirectTransport()
    )
    dashboard = Dashboard(transport)
    tracker = JobTracker(dashboard, job_queue.add)
    rayjobs = RayJobReconciler(
        client, executor, bodies["RayCluster"], pods, services, jobs, tracker, config, bodies["RayJob"]
    )
    serve = ServeTracker(dashboard, service_queue.add, lambda *rejection: rayservices.rejected(*rejection))
    rayservices = RayServiceReconciler(
        client, executor, bodies["RayCluster"], pods, services, serve, config, bodies["RayService"]
    )
    metrics.objects.watch(clusters.bodies, rayjobs.bodies, rayservices.bodies)
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

    kopf.on.login(registry=registry, id="login")(kopf_login(client))

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.enabled = False  # events are ours, with KubeRay's reasons
        # No CRD or namespace watching: it needs cluster-wide reads the operator has no other use for
        # (the ray.io kinds are discovered once at start; watched namespaces are listed explicitly).
        settings.scanning.disabled = True
        settings.watching.server_timeout = 300
        # A connection that dies without a word ends the watch here too (the server's own end comes
        # at 300 s), instead of leaving the operator deaf for good.
        settings.watching.client_timeout = 330

    background = [asyncio.create_task(t.run()) for t in (pods, services, jobs, events)]

    async def work_when_synced() -> None:
        # Reconciling from a half-filled cache would create Pods that already exist.
        for cache in (pods, services, jobs):
            await cache.synced.wait()
        readiness.state = "watching"
        await asyncio.gather(cluster_queue.run(), job_queue.run(), service_queue.run())

    async def stop_when_it_fails(watch: Awaitable[None], message: str) -> None:
        """The Lease renewal and the rival guard end the operator when they fail."""
        try:
            await watch
        except (LostLeadership, RivalOperator) as error:
            # Not one more write: the work queues stop now, not after kopf's own shutdown, and the
            # Events still buffered are dropped (another replica may lead already).
            workers.cancel()
            log.error(message, extra={"error": str(error)})
            lost.append(error)
            stop_flag.set()

    lost: list[Exception] = []
    workers = asyncio.create_task(work_when_synced())
    if elector is not None:
        background.append(
            asyncio.create_task(stop_when_it_fails(elector.hold(), "lost the leader Lease: stopping"))
        )
    if guard is not None:
        background.append(
            asyncio.create_task(
                stop_when_it_fails(guard.watch(), "another operator started leading: stopping")
            )
        )
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
        if not lost:
            await events.flush()
        await serve.close()
        await tracker.close()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
    if lost:
        raise lost[0]


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
