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

    def count_request(self, method: str, resource: str, code: int) -> None:
        self.requests.labels(method, resource, str(code)).inc()

    def timed(
        self, kind: str, reconcile: Callable[[Any], Awaitable[float | None]]
    ) -> Callable[[Any], Awaitable[float | None]]:
        """`reconcile`, counted and timed under `kind`."""

        async def measured(key: Any) -> float | None:
            started = time.monotonic()
            result = "error"
            try:
                requeue = await reconcile(key)
                result = "success" if requeue is None else "requeue"
                return requeue
            finally:
                self.latency.labels(kind).observe(time.monotonic() - started)
                self.reconciles.labels(kind, result).inc()

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
