"""The operator's two HTTP endpoints: health probes (`/healthz`, `/readyz`) and Prometheus `/metrics`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from raykopf.k8s.store import LatestStore
from raykopf.reconcile.metrics import HELP, Sample, cluster_samples, job_samples, service_samples

disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series: counters as controller-runtime's, nothing more


@dataclass
class Readiness:
    """`standby` waits for the Lease (ready: it is healthy and can take over); `watching` is ready once
    the caches are filled; `starting`, `conflict` (another operator leads over the same namespaces)
    and `stopping` are not ready."""

    state: str = "starting"

    @property
    def ready(self) -> bool:
        return self.state in ("standby", "watching")


class ObjectMetrics(Collector):
    """KubeRay's per-object gauges, from the cached RayClusters, RayJobs and RayServices."""

    def __init__(self) -> None:
        self.sources: list[tuple[LatestStore, Callable[[dict[str, Any]], list[Sample]]]] = []

    def watch(self, clusters: LatestStore, jobs: LatestStore, services: LatestStore) -> None:
        self.sources = [(clusters, cluster_samples), (jobs, job_samples), (services, service_samples)]

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        for store, samples in self.sources:
            for key in store:
                body = store.get(*key)
                if body is None or body["metadata"].get("deletionTimestamp"):
                    continue
                for name, labels, value in samples(body):
                    family = families.get(name)
                    if family is None:
                        family = families[name] = GaugeMetricFamily(name, HELP[name], labels=list(labels))
                    family.add_metric(list(labels.values()), value)
        yield from families.values()


class QueueMetrics(Collector):
    """client-go's `workqueue_depth` (keys waiting, not those being reconciled), read at scrape time."""

    def __init__(self) -> None:
        self.queues: dict[str, Callable[[], int]] = {}

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "workqueue_depth", "Current depth of workqueue", labels=["name", "controller"]
        )
        for controller, queue in self.queues.items():
            depth.add_metric([controller, controller], queue())
        yield depth


# controller-runtime's buckets for controller_runtime_reconcile_time_seconds.
CONTROLLER_RUNTIME_BUCKETS = (
    *(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    *(1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60),
)


@dataclass
class OperatorMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    objects: ObjectMetrics = field(default_factory=ObjectMetrics)

    def __post_init__(self) -> None:
        self.registry.register(self.objects)
        ProcessCollector(registry=self.registry)
        self.reconciles = Counter(
            "raykopf_reconcile_total",
            "Reconciles per kind and result (success, requeue, error).",
            ["kind", "result"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "raykopf_reconcile_duration_seconds",
            "Time one reconcile of one object took.",
            ["kind"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.requests = Counter(
            "raykopf_api_requests_total",
            "Responses from the Kubernetes API per method, resource and HTTP code.",
            ["method", "resource", "code"],
            registry=self.registry,
        )

        # controller-runtime's names, as KubeRay's operator exports them (controller = the kind in
        # lowercase), so that its Grafana dashboard and alerts work unchanged.
        self.cr_reconciles = Counter(
            "controller_runtime_reconcile_total",
            "Total number of reconciliations per controller",
            ["controller", "result"],
            registry=self.registry,
        )
        self.cr_errors = Counter(
            "controller_runtime_reconcile_errors_total",
            "Total number of reconciliation errors per controller",
            ["controller"],
            registry=self.registry,
        )
        self.cr_latency = Histogram(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            ["controller"],
            registry=self.registry,
            buckets=CONTROLLER_RUNTIME_BUCKETS,
        )
        self.cr_workers = Gauge(
            "controller_runtime_max_concurrent_reconciles",
            "Maximum number of concurrent reconciles per controller",
            ["controller"],
            registry=self.registry,
        )
        self.cr_active = Gauge(
            "controller_runtime_active_workers",
            "Number of currently used workers per controller",
            ["controller"],
            registry=self.registry,
        )
        self.queues = QueueMetrics()
        self.registry.register(self.queues)

    def add_controller(self, kind: str, concurrency: int, depth: Callable[[], int]) -> None:
        """Export `kind`'s controller-runtime series from the start (at zero, as controller-runtime
        does) and its work queue's depth."""
        controller = kind.lower()
        for result in ("error", "requeue_after", "requeue", "success"):
            self.cr_reconciles.labels(controller, result)
        self.cr_errors.labels(controller)
        self.cr_workers.labels(controller).set(concurrency)
        self.cr_active.labels(controller).set(0)
        self.queues.queues[controller] = depth

    def count_request(self, method: str, resource: str, code: int) -> None:
        self.requests.labels(method, resource, str(code)).inc()

    def timed(
        self, kind: str, reconcile: Callable[[Any], Awaitable[float | None]]
    ) -> Callable[[Any], Awaitable[float | None]]:
        """`reconcile`, counted and timed under `kind`."""

        controller = kind.lower()

        async def measured(key: Any) -> float | None:
            started = time.monotonic()
            result = "error"
            self.cr_active.labels(controller).inc()
            try:
                requeue = await reconcile(key)
                result = "success" if requeue is None else "requeue"
                return requeue
            finally:
                elapsed = time.monotonic() - started
                self.cr_active.labels(controller).dec()
                self.latency.labels(kind).observe(elapsed)
                self.reconciles.labels(kind, result).inc()
                self.cr_latency.labels(controller).observe(elapsed)
                # A pass that asks to come back after a delay is controller-runtime's RequeueAfter.
                self.cr_reconciles.labels(
                    controller, "requeue_after" if result == "requeue" else result
                ).inc()
                if result == "error":
                    self.cr_errors.labels(controller).inc()

        return measured

    def text(self) -> bytes:
        return generate_latest(self.registry)


def split_address(address: str, default_port: int) -> tuple[str, int]:
    """Go-style `host:port` (`:8080` = every interface); `0` or empty turns the endpoint off (port 0)."""
    if address in ("", "0"):
        return "", 0
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port or default_port)


async def serve(
    routes: Iterable[tuple[str, Callable[[], tuple[int, bytes, str]]]], address: str
) -> web.AppRunner:
    """Serve GET `routes` (path -> (status, body, content type)) on `address`; returns the runner to stop."""
    app = web.Application()
    for path, handler in routes:

        async def respond(
            _: web.Request, handler: Callable[[], tuple[int, bytes, str]] = handler
        ) -> web.Response:
            status, body, content_type = handler()
            return web.Response(status=status, body=body, content_type=content_type)

        app.router.add_get(path, respond)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    host, port = split_address(address, 0)
    await web.TCPSite(runner, host, port).start()
    return runner


def health_routes(readiness: Readiness) -> list[tuple[str, Callable[[], tuple[int, bytes, str]]]]:
    def healthz() -> tuple[int, bytes, str]:
        return 200, b"ok", "text/plain"

    def readyz() -> tuple[int, bytes, str]:
        return (200 if readiness.ready else 503), readiness.state.encode(), "text/plain"

    return [("/healthz", healthz), ("/readyz", readyz)]


def metrics_routes(metrics: OperatorMetrics) -> list[tuple[str, Callable[[], tuple[int, bytes, str]]]]:
    def scrape() -> tuple[int, bytes, str]:
        return 200, metrics.text(), "text/plain"

    return [("/metrics", scrape)]
