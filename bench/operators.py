"""The two operators a head-to-head benchmark runs one after the other on the same local cluster: raykopf
(`raykopf run`, a child process) and KubeRay's own operator (the pinned build the local cluster makes),
each with its defaults or with settings given, each measured the same way from outside: CPU seconds and
peak RSS from /proc, API requests from its own client metrics."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from prometheus_client.parser import text_string_to_metric_families

from bench.harness import process_cpu_seconds, say, stop_process
from raykopf.k8s.client import KubeClient
from raykopf_local import kuberay
from raykopf_local.cluster import LocalCluster


@dataclass(frozen=True)
class Settings:
    """The knobs both operators share, by the same flag names (None: the operator's default)."""

    concurrency: int | None = None
    qps: float | None = None
    burst: int | None = None

    def flags(self) -> list[str]:
        pairs = (("--reconcile-concurrency", self.concurrency), ("--qps", self.qps), ("--burst", self.burst))
        return [f"{flag}={value}" for flag, value in pairs if value is not None]


# Each operator's own defaults, printed beside its results (KubeRay v1.6's apis/config/v1alpha1 defaults).
DEFAULTS = {"raykopf": Settings(10, 100, 200), "KubeRay": Settings(1, 100, 200)}


class Measured:
    """CPU, memory and requests of one operator process, read from outside."""

    name: str
    pid: int | None = None
    metrics_url: str
    probe_url: str

    def _status_kb(self, field_name: str) -> int:
        assert self.pid is not None
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
        return 0

    @property
    def rss_mb(self) -> float:
        return self._status_kb("VmRSS") / 1024

    @property
    def peak_rss_mb(self) -> float:
        """The kernel's high-water mark of the process's resident memory (VmHWM)."""
        return self._status_kb("VmHWM") / 1024

    @property
    def cpu_seconds(self) -> float:
        assert self.pid is not None
        return process_cpu_seconds(self.pid)

    def _metric_text(self) -> str:
        with contextlib.suppress(OSError):
            text: str = urllib.request.urlopen(self.metrics_url, timeout=5).read().decode()
            return text
        return ""

    def start(self, namespaces: list[str], settings: Settings) -> None:
        """Start the operator watching only `namespaces`; return once it is ready."""
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def api_requests(self) -> dict[str, float]:
        """HTTP method -> requests the operator's client made so far."""
        raise NotImplementedError

    def _sum(self, metric: str, **labels: str) -> float:
        total = 0.0
        for family in text_string_to_metric_families(self._metric_text()):
            for sample in family.samples:
                if sample.name == metric and all(sample.labels.get(k) == v for k, v in labels.items()):
                    total += sample.value
        return total

    def _by_method(self, metric: str) -> dict[str, float]:
        counts: dict[str, float] = {}
        for family in text_string_to_metric_families(self._metric_text()):
            for sample in family.samples:
                if sample.name == metric:
                    counts[sample.labels["method"]] = counts.get(sample.labels["method"], 0) + sample.value
        return counts

    def reconciles(self) -> float:
        """RayCluster reconciles so far."""
        raise NotImplementedError

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the operator's readiness probe answers 200 (it has its caches and, for raykopf, the lead)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if urllib.request.urlopen(self.probe_url, timeout=2).status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s")


class Raykopf(Measured):
    name = "raykopf"
    metrics_url = "http://127.0.0.1:8080/metrics"
    probe_url = "http://127.0.0.1:8082/readyz"

    def __init__(self, kubeconfig: Path, log: Path, extra: tuple[str, ...] = ()) -> None:
        self.kubeconfig, self.log, self.extra = kubeconfig, log, extra
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, namespaces: list[str], settings: Settings) -> None:
        argv = [
            sys.executable,
            "-m",
            "raykopf",
            "run",
            "--kubeconfig",
            str(self.kubeconfig),
            "--enable-metrics",
        ]
        argv += [f"--watch-namespace={','.join(namespaces)}", *settings.flags(), *self.extra]
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT)
        self.pid = self.process.pid
        self.wait_ready()

    def api_requests(self) -> dict[str, float]:
        # raykopf's own client (children, status); kopf's few list/watch requests per kind are not in it.
        return self._by_method("raykopf_api_requests_total")

    def reconciles(self) -> float:
        return self._sum("raykopf_reconcile_total", kind="RayCluster")

    def stop(self) -> None:
        stop_process(self.process)
        self.process = self.pid = None


class KubeRay(Measured):
    name = "KubeRay"
    metrics_url = f"http://127.0.0.1{kuberay.METRICS_ADDR}/metrics"
    probe_url = f"http://127.0.0.1{kuberay.PROBE_ADDR}/readyz"

    def __init__(self, cluster: LocalCluster, lease_namespace: str = "default") -> None:
        # Leader election on, as KubeRay's defaults and chart have it, its Lease where raykopf's is
        # outside a cluster: both operators pay for their renewals.
        self.cluster, self.lease_namespace = cluster, lease_namespace

    @property
    def version(self) -> str:
        return kuberay.OPERATOR.version

    def start(self, namespaces: list[str], settings: Settings) -> None:
        self.pid = self.cluster.start_kuberay(
            say, namespaces, leader_election_namespace=self.lease_namespace, extra_args=settings.flags()
        )
        self.wait_ready()

    def api_requests(self) -> dict[str, float]:
        # client-go's counter (controller-runtime registers it): every request, lists and watches included.
        return self._by_method("rest_client_requests_total")

    def reconciles(self) -> float:
        # controller-runtime's counter; the controller is named after the kind it is For (lowercase).
        return self._sum("controller_runtime_reconcile_total", controller="raycluster")

    def stop(self) -> None:
        self.cluster.stop_kuberay()
        self.pid = None


Result = TypeVar("Result")


async def each_operator(
    kubeconfig: Path,
    only: str | None,
    one: Callable[[KubeClient, Measured], Awaitable[Result]],
    *,
    log: Path,
    raykopf_flags: tuple[str, ...] = (),
) -> dict[str, Result]:
    """`one(client, operator)` for raykopf, then KubeRay (or only the one named), with one client of the
    local cluster for both."""
    client = KubeClient.from_kubeconfig(kubeconfig)
    operators: list[Measured] = [Raykopf(kubeconfig, log, extra=raykopf_flags), KubeRay(LocalCluster())]
    results: dict[str, Result] = {}
    try:
        for operator in operators:
            if only in (None, operator.name):
                results[operator.name] = await one(client, operator)
    finally:
        await client.close()
    return results
