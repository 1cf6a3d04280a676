"""Shared pieces of the benchmarks: the local cluster's client, bench RayClusters that land on simulated
nodes, the operator as a child process with its memory sampled, and a Pod-arrival clock."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from raykopf.k8s.client import ApiError, KubeClient
from raykopf_local.cluster import LocalCluster

SIMULATED = {"raykopf.io/simulated": "true"}
TOLERATION = {"key": "raykopf.io/simulated", "operator": "Equal", "value": "true", "effect": "NoSchedule"}


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def ensure_cluster() -> Path:
    """Use the running local cluster if it has a simulated node; otherwise start one (left running)."""
    cluster = LocalCluster()
    if cluster.processes.pid("kube-apiserver") is None:
        cluster.up(say, simulated_nodes=1)
    command = [
        str(cluster.kubectl),
        "--kubeconfig",
        str(cluster.kubeconfig),
        "get",
        "nodes",
        "-o",
        "name",
        "-l",
        "raykopf.io/simulated=true",
    ]
    deadline = time.monotonic() + 30  # the agent registers its nodes just after `up` returns
    while not subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip():
        if time.monotonic() > deadline:
            sys.exit("the running local cluster has no simulated node: `raykopf local down`, then rerun")
        time.sleep(1)
    return cluster.kubeconfig


def pod_template(container: str, cpu: str = "10m", memory: str = "32Mi") -> dict[str, Any]:
    return {
        "spec": {
            "nodeSelector": SIMULATED,
            "tolerations": [TOLERATION],
            "containers": [
                {
                    "name": container,
                    "image": "rayproject/ray:2.60.0",
                    "resources": {"requests": {"cpu": cpu, "memory": memory}},
                }
            ],
        }
    }


def raycluster(name: str, namespace: str, workers: int) -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "rayVersion": "2.60.0",
            "headGroupSpec": {"rayStartParams": {}, "template": pod_template("ray-head")},
            "workerGroupSpecs": [
                {
                    "groupName": "small",
                    "replicas": workers,
                    "minReplicas": 0,
                    "maxReplicas": 1000,
                    "rayStartParams": {},
                    "template": pod_template("ray-worker"),
                }
            ],
        },
    }


async def create_namespace(client: KubeClient, name: str) -> None:
    with contextlib.suppress(ApiError):
        await client.create(
            "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        )
    # Pods are admitted only once the namespace's default ServiceAccount exists.
    for _ in range(300):
        if await client.get(f"/api/v1/namespaces/{name}/serviceaccounts/default"):
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"namespace {name}: no default ServiceAccount")


async def delete_namespace(client: KubeClient, name: str, timeout: float = 600) -> float:
    started = time.monotonic()
    # Pods first and at once (no grace period: simulated Pods run nothing); the namespace's own
    # deletion would otherwise take them one by one through the garbage collector.
    # A collection of thousands outlasts the apiserver's 60 s request timeout, which cuts the answer
    # short after deleting part of it: ask again for the rest.
    for _ in range(10):
        try:
            await client.raw(
                "DELETE", f"/api/v1/namespaces/{name}/pods", params={"gracePeriodSeconds": 0}, timeout=timeout
            )
            break
        except (TimeoutError, aiohttp.ClientError) as error:
            say(f"namespace {name}: deleting its Pods: {error.__class__.__name__}; again")
    await client.delete(f"/api/v1/namespaces/{name}")
    while time.monotonic() - started < timeout:
        if await client.get(f"/api/v1/namespaces/{name}") is None:
            return time.monotonic() - started
        await asyncio.sleep(1)
    raise RuntimeError(f"namespace {name} still there after {timeout:.0f} s")


async def bounded(concurrency: int, jobs: list[Any]) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)

    async def one(job: Any) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(one(j) for j in jobs))


async def watch_forever(client: KubeClient, path: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(event type, object) of every change in `path` from now on; the watch is reopened where the
    last one ended."""
    listing = await client.request("GET", path, params={"limit": 1})
    version = listing["metadata"]["resourceVersion"]
    while True:
        async for event in client.watch(path, version):
            obj = event["object"]
            version = obj.get("metadata", {}).get("resourceVersion", version)
            yield event["type"], obj


@dataclass
class PodClock:
    """Local arrival time of every Pod ADDED in a namespace (creationTimestamp has 1 s resolution)."""

    client: KubeClient
    namespace: str
    added: dict[str, float] = field(default_factory=dict)
    ready: dict[str, float] = field(default_factory=dict)

    async def run(self) -> None:
        async for kind, obj in watch_forever(self.client, f"/api/v1/namespaces/{self.namespace}/pods"):
            name = obj.get("metadata", {}).get("name")
            if kind == "ADDED":
                self.added.setdefault(name, time.monotonic())
            if obj.get("status", {}).get("phase") == "Running":
                self.ready.setdefault(name, time.monotonic())

    async def wait_added(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.added) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(self.added)} of {count} Pods after {timeout:.0f} s")
            await asyncio.sleep(0.05)


@dataclass
class ReadyClock:
    """Local time each RayCluster in a namespace was first seen `ready`, from a watch (listing
    thousands of RayClusters every second would load the apiserver the benchmark measures)."""

    client: KubeClient
    namespace: str
    ready: dict[str, float] = field(default_factory=dict)

    async def run(self) -> None:
        path = f"/apis/ray.io/v1/namespaces/{self.namespace}/rayclusters"
        async for _, obj in watch_forever(self.client, path):
            if (obj.get("status") or {}).get("state") == "ready":
                self.ready.setdefault(obj["metadata"]["name"], time.monotonic())


Clock = TypeVar("Clock", PodClock, ReadyClock)


@contextlib.asynccontextmanager
async def running(clock: Clock) -> AsyncIterator[Clock]:
    task = asyncio.create_task(clock.run())
    await asyncio.sleep(0.5)  # let the watch open
    try:
        yield clock
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# Which process is which, by the basename of argv[0] or a module named in the command line.
COMPONENTS = (
    ("kube-apiserver", "kube-apiserver"),
    ("etcd", "etcd"),
    ("controller-manager", "kube-controller-manager"),
    ("scheduler", "kube-scheduler"),
    ("node agent", "raykopf_local.agent"),
    ("raykopf", "raykopf run"),
    ("KubeRay", "ray-operator"),
)


def component_of(argv: list[str]) -> str | None:
    binary, line = argv[0].rsplit("/", 1)[-1], " ".join(argv)
    for name, marker in COMPONENTS:
        if binary == marker or (("." in marker or " " in marker) and marker in line):
            return name
    return None


def process_cpu_seconds(pid: int | str) -> float:
    """User + system CPU time of a process so far (fields 14 and 15 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


STOLEN = "stolen by the host"


class CpuMeter:
    """CPU seconds (user + system) each part of the local cluster, the operator and this benchmark spend
    between `start` and `spent`: on a saturated 2-core machine, where the time goes."""

    def __init__(self) -> None:
        self._start: dict[str, float] = {}

    @staticmethod
    def _now() -> dict[str, float]:
        # Time the hypervisor gave this machine's CPUs to others (the 8th number of /proc/stat's first
        # line): a run with seconds of it was slowed down by its neighbours, not by what it measures.
        steal = int(Path("/proc/stat").read_text().split("\n", 1)[0].split()[8])
        totals: dict[str, float] = {STOLEN: steal / os.sysconf("SC_CLK_TCK")}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
                name = "benchmark" if int(entry.name) == os.getpid() else component_of(argv)
                if name is not None:
                    totals[name] = totals.get(name, 0.0) + process_cpu_seconds(entry.name)
            except OSError:  # the process ended meanwhile
                continue
        return totals

    def start(self) -> None:
        self._start = self._now()

    def spent(self) -> dict[str, float]:
        return {k: v - self._start.get(k, 0.0) for k, v in self._now().items()}


def cpu_summary(spent: dict[str, float], seconds: float) -> str:
    parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(spent.items(), key=lambda x: -x[1]))
    total = sum(v for k, v in spent.items() if k != STOLEN)
    return f"CPU seconds: {parts}; total {total:.1f} in {seconds:.1f} s ({total / seconds:.2f} cores)"


@dataclass
class Operator:
    """`raykopf run` as a child process that the chaos run kills and restarts at will."""

    kubeconfig: Path
    concurrency: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [sys.executable, "-m", "raykopf", "run", "--kubeconfig", str(self.kubeconfig)]
        argv += ["--reconcile-concurrency", str(self.concurrency), "--enable-metrics"]
        with self.log.open("ab") as sink:
            self.process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes] | None, grace: float = 20) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def apiserver_counters(client: KubeClient) -> dict[str, float]:
    """The apiserver's own counts so far: `requests <VERB> <resource>[/<subresource>]` and
    `watch events <resource>` (events sent to watchers), from its /metrics."""
    status, body = await client.raw("GET", "/metrics")
    if status != 200:
        raise RuntimeError(f"apiserver /metrics: HTTP {status}")
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "apiserver_request_total":
                sub = f"/{labels['subresource']}" if labels.get("subresource") else ""
                key = f"requests {labels['verb']} {labels['resource']}{sub}"
            elif sample.name == "apiserver_watch_events_total":
                key = f"watch events {labels['resource']}"
            else:
                continue
            counts[key] = counts.get(key, 0.0) + sample.value
    return counts
