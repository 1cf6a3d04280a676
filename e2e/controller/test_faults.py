"""The controller tier: `raykopf run` against the real apiserver through a fault-injecting proxy, with
Pods on the simulated node (no Ray). For each create of each controller, a failure right after it
(the object was made, the operator was told it was not) must not lead to a duplicate or an orphan;
nor a failed status write, a refused or slow request, a dropped or expired watch, or a restart with
empty caches."""

from __future__ import annotations

import datetime
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from e2e.conformance.cases import on_simulated_node, simulated_raycluster_spec
from e2e.conftest import RAY_KINDS, HostOperator, Kubectl, wait_for
from e2e.controller.faults import Fault, FaultProxy, proxy_for
from raykopf_local.cluster import LocalCluster

CONTAINER = {
    "name": "ray",
    "image": "rayproject/ray:2.60.0",
    "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
}
WORKERS = 3
CLUSTER_SPEC = {
    "headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [CONTAINER]}}},
    "workerGroupSpecs": [
        {
            "groupName": "small",
            "replicas": WORKERS,
            "minReplicas": 0,
            "maxReplicas": 10,
            "rayStartParams": {},
            "template": {"spec": {"containers": [CONTAINER]}},
        }
    ],
}
SUBMITTER = on_simulated_node(
    {
        "spec": {
            "restartPolicy": "Never",
            "containers": [{**CONTAINER, "name": "submitter", "command": ["true"]}],
        }
    }
)


def raycluster(name: str) -> dict[str, Any]:
    spec = simulated_raycluster_spec(CLUSTER_SPEC)
    return {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": name}, "spec": spec}


def rayjob(name: str) -> dict[str, Any]:
    spec = {
        "entrypoint": "python -c 'print(1)'",
        "rayClusterSpec": simulated_raycluster_spec(CLUSTER_SPEC),
        "submitterPodTemplate": SUBMITTER,
    }
    return {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": name}, "spec": spec}


def rayservice(name: str) -> dict[str, Any]:
    serve = "applications:\n- name: app\n  import_path: app:app\n  route_prefix: /\n"
    spec = {"serveConfigV2": serve, "rayClusterConfig": simulated_raycluster_spec(CLUSTER_SPEC)}
    return {"apiVersion": "ray.io/v1", "kind": "RayService", "metadata": {"name": name}, "spec": spec}


@pytest.fixture(scope="module")
def proxy(local_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultProxy]:
    started = proxy_for(local_cluster.kubeconfig, tmp_path_factory.mktemp("proxy"))
    yield started
    started.stop()


@pytest.fixture
def faulty(
    proxy: FaultProxy,
    local_cluster: LocalCluster,
    host_operator: HostOperator,
    kubectl: Kubectl,
    namespace: str,
    tmp_path: Path,
) -> Iterator[HostOperator]:
    """`raykopf run` through the proxy, owning the test's namespace (the shared one is stopped)."""
    host_operator.stop()
    proxy.clear()
    kubeconfig = proxy.kubeconfig(local_cluster.kubeconfig, tmp_path / "proxied.kubeconfig")
    operator = HostOperator(kubeconfig, tmp_path / "operator.log", extra=["--watch-namespace", namespace])
    operator.start()
    yield operator
    proxy.clear()
    # The RayJobs' and RayServices' finalizers are this operator's to remove: delete them while it runs.
    kubectl(
        "delete", RAY_KINDS, "--all", "-n", namespace, "--wait=true", "--timeout=60s", check=False, timeout=90
    )
    operator.stop()


def names(kubectl: Kubectl, namespace: str, kind: str, selector: str = "") -> list[str]:
    args = ["get", kind, "-n", namespace, "-o", "name"] + (["-l", selector] if selector else [])
    return kubectl(*args).split()


def pods_of(kubectl: Kubectl, namespace: str, cluster: str) -> dict[str, int]:
    items = kubectl.json("get", "pods", "-n", namespace, "-l", f"ray.io/cluster={cluster}")["items"]
    counts = {"head": 0, "worker": 0}
    for pod in items:
        if not pod["metadata"].get("deletionTimestamp"):
            counts[pod["metadata"]["labels"]["ray.io/node-type"]] += 1
    return counts


def ready(kubectl: Kubectl, namespace: str, cluster: str) -> bool:
    text = kubectl("get", "raycluster", cluster, "-n", namespace, "-o", "json", check=False)
    return bool(text) and (json.loads(text).get("status") or {}).get("state") == "ready"


def holds(check: Callable[[], Any], seconds: float, what: str) -> None:
    """`check` stays true for `seconds` (nothing made twice later on)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert check(), what
        time.sleep(1)


@dataclass(frozen=True)
class Case:
    name: str
    fault: Callable[[str], Fault]
    """The fault, given the namespace."""
    create: Callable[[], dict[str, Any]]


def ns_path(namespace: str, resource: str, group: str = "apis/ray.io/v1") -> str:
    return f"^/{group}/namespaces/{namespace}/{resource}"


def creates(namespace: str, resource: str, group: str = "apis/ray.io/v1") -> str:
    """The path of a create (a POST to the collection, perhaps with a query)."""
    return ns_path(namespace, resource, group) + r"(\?|$)"


CASES = [
    # The RayJob's RayCluster was made, the answer lost.
    Case(
        "rayjob-cluster-create",
        lambda ns: Fault("POST", creates(ns, "rayclusters"), after=True),
        lambda: rayjob("job"),
    ),
    # The status write that follows fails (the defect KubeRay avoids by storing names first).
    Case(
        "rayjob-status-write",
        lambda ns: Fault("PATCH", ns_path(ns, "rayjobs/job/status"), times=2),
        lambda: rayjob("job"),
    ),
    Case(
        "rayjob-status-write-lost",
        lambda ns: Fault("PATCH", ns_path(ns, "rayjobs/job/status"), after=True),
        lambda: rayjob("job"),
    ),
    Case(
        "rayjob-submitter-create",
        lambda ns: Fault("POST", creates(ns, "jobs", "apis/batch/v1"), after=True),
        lambda: rayjob("job"),
    ),
    Case(
        "rayservice-cluster-create",
        lambda ns: Fault("POST", creates(ns, "rayclusters"), after=True),
        lambda: rayservice("svc"),
    ),
    Case(
        "rayservice-status-write",
        lambda ns: Fault("PATCH", ns_path(ns, "rayservices/svc/status"), times=2),
        lambda: rayservice("svc"),
    ),
    Case(
        "raycluster-head-pod-create",
        lambda ns: Fault("POST", creates(ns, "pods", "api/v1"), after=True),
        lambda: raycluster("rc"),
    ),
    Case(
        "raycluster-worker-pod-creates",
        lambda ns: Fault("POST", creates(ns, "pods", "api/v1"), after=True, times=3),
        lambda: raycluster("rc"),
    ),
    Case(
        "raycluster-head-service-create",
        lambda ns: Fault("POST", creates(ns, "services", "api/v1"), after=True),
        lambda: raycluster("rc"),
    ),
    Case(
        "raycluster-status-write",
        lambda ns: Fault("PATCH", ns_path(ns, "rayclusters/rc/status"), times=3),
        lambda: raycluster("rc"),
    ),
]


def the_clusters(kubectl: Kubectl, namespace: str) -> list[str]:
    return [name.split("/", 1)[1] for name in names(kubectl, namespace, "rayclusters")]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_failure_right_after_a_create_makes_no_duplicate_and_no_orphan(
    case: Case, kubectl: Kubectl, namespace: str, proxy: FaultProxy, faulty: HostOperator
) -> None:
    fault = proxy.add(case.fault(namespace))
    kubectl.apply(json.dumps(case.create()), namespace)
    wait_for(lambda: fault.hits > 0, 60, f"the fault ({fault.method} {fault.path}) to be hit")

    def one_ready_cluster() -> bool:
        clusters = the_clusters(kubectl, namespace)
        return len(clusters) == 1 and ready(kubectl, namespace, clusters[0])

    wait_for(one_ready_cluster, 120, "one ready RayCluster", interval=1)
    (cluster,) = the_clusters(kubectl, namespace)

    def exact() -> bool:
        pods = pods_of(kubectl, namespace, cluster)
        services = names(kubectl, namespace, "services", f"ray.io/cluster={cluster}")
        return (
            the_clusters(kubectl, namespace) == [cluster]
            and pods == {"head": 1, "worker": WORKERS}
            and len([s for s in services if s.endswith("-head-svc")]) >= 1
        )

    wait_for(exact, 60, f"exactly 1 head and {WORKERS} workers of {cluster}", interval=1)
    holds(exact, 3, f"{cluster} keeps exactly its Pods, and no second RayCluster appears")
    owner = (
        kubectl.json("get", "raycluster", cluster, "-n", namespace)["metadata"].get("ownerReferences") or []
    )
    kind = case.create()["kind"]
    if kind != "RayCluster":
        assert [ref["kind"] for ref in owner] == [kind], owner  # owned: nothing orphaned
    if kind == "RayJob":
        status = kubectl.json("get", "rayjob", "job", "-n", namespace)["status"]
        assert status["rayClusterName"] == cluster, status
        wait_for(lambda: names(kubectl, namespace, "jobs"), 60, "the submitter Job")
        holds(lambda: len(names(kubectl, namespace, "jobs")) == 1, 2, "one submitter Job")
    if kind == "RayService":
        status = kubectl.json("get", "rayservice", "svc", "-n", namespace)["status"]
        named = {
            (status.get(w) or {}).get("rayClusterName")
            for w in ("activeServiceStatus", "pendingServiceStatus")
        }
        assert cluster in named, status
    assert faulty.process is not None
    assert faulty.process.poll() is None, faulty.log.read_text()[-3000:]


def scale(kubectl: Kubectl, namespace: str, cluster: str, replicas: int) -> None:
    patch = [{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": replicas}]
    kubectl("patch", "raycluster", cluster, "-n", namespace, "--type=json", "-p", json.dumps(patch))


def test_cut_and_expired_watches_and_a_restart_with_empty_caches_leave_exactly_the_pods_asked_for(
    kubectl: Kubectl, namespace: str, proxy: FaultProxy, faulty: HostOperator
) -> None:
    watch = ns_path(namespace, "pods", "api/v1") + r"\?.*watch=(1|true)"
    cut = proxy.add(Fault("GET", watch, cut_watch_after=3, times=2))
    gone = proxy.add(Fault("GET", watch, status=410))
    faulty.stop()
    faulty.start()  # new watches, through the faults
    kubectl.apply(json.dumps(raycluster("rc")), namespace)
    for replicas in (WORKERS, 6, 2):
        scale(kubectl, namespace, "rc", replicas)
        wait_for(
            lambda n=replicas: pods_of(kubectl, namespace, "rc") == {"head": 1, "worker": n},
            90,
            f"1 head and {replicas} workers",
            interval=1,
        )
    assert cut.hits == 2
    assert gone.hits == 1
    faulty.stop()  # a restart with empty caches
    faulty.start()
    scale(kubectl, namespace, "rc", 4)
    wait_for(
        lambda: pods_of(kubectl, namespace, "rc") == {"head": 1, "worker": 4}, 90, "4 workers", interval=1
    )
    holds(lambda: pods_of(kubectl, namespace, "rc") == {"head": 1, "worker": 4}, 6, "exactly 4 workers")


def test_a_429_is_retried_no_sooner_than_its_retry_after_and_a_slow_apiserver_only_slows(
    kubectl: Kubectl, namespace: str, proxy: FaultProxy, faulty: HostOperator
) -> None:
    pods = creates(namespace, "pods", "api/v1")
    throttled = proxy.add(Fault("POST", pods, status=429, retry_after=4))
    proxy.add(Fault("POST", pods, delay=3, times=2))  # the next two creates take 3 s each
    kubectl.apply(json.dumps(raycluster("rc")), namespace)
    wait_for(lambda: ready(kubectl, namespace, "rc"), 120, "the RayCluster to be ready", interval=1)
    assert throttled.hits == 1
    posts = proxy.requests("POST", pods)
    refused = next(i for i, seen in enumerate(posts) if seen.status == 429)
    assert posts[refused + 1].at - posts[refused].at >= 4.0, [(s.status, s.at) for s in posts]
    holds(lambda: pods_of(kubectl, namespace, "rc") == {"head": 1, "worker": WORKERS}, 6, "exactly its Pods")


FINALIZERS = {
    "rayjobs": "ray.io/rayjob-finalizer",
    "rayservices": "ray.io/rayservice-finalizer",
    "rayclusters": "ray.io/gcs-ft-redis-cleanup-finalizer",
}


def test_a_namespace_deleted_while_the_operator_is_down_goes_away_once_it_is_back(
    kubectl: Kubectl, namespace: str, faulty: HostOperator
) -> None:
    """Every object the operator put a finalizer on waits for it; once it is back, the namespace goes
    (a GCS FT RayCluster's clean-up Job cannot be made in a terminating namespace: no wait for the
    300 s timeout), and no finalizer is left wedged."""
    ft = raycluster("ft")
    ft["spec"]["gcsFaultToleranceOptions"] = {"redisAddress": "redis.nowhere:6379"}
    for body in (ft, rayjob("job"), rayservice("svc")):
        kubectl.apply(json.dumps(body), namespace)

    def finalized() -> bool:
        for resource, finalizer in FINALIZERS.items():
            items = kubectl.json("get", f"{resource}.ray.io", "-n", namespace)["items"]
            if not any(finalizer in (i["metadata"].get("finalizers") or []) for i in items):
                return False
        return True

    wait_for(finalized, 60, "the operator's finalizers on the RayCluster, RayJob and RayService", interval=1)
    faulty.stop()
    kubectl("delete", "namespace", namespace, "--wait=false")

    def stuck() -> bool:
        left = kubectl.json("get", RAY_KINDS, "-n", namespace)["items"]
        return len(left) >= 3 and all(i["metadata"].get("deletionTimestamp") for i in left)

    wait_for(stuck, 60, "the ray.io objects to be deleted and held by their finalizers", interval=1)
    faulty.start()
    started = time.monotonic()
    gone = lambda: not kubectl("get", "namespace", namespace, "-o", "name", check=False)  # noqa: E731
    wait_for(gone, 120, f"namespace {namespace} to go away", interval=1)
    print(f"namespace gone {time.monotonic() - started:.1f} s after the operator came back")
    assert faulty.process is not None
    assert faulty.process.poll() is None, faulty.log.read_text()[-3000:]


LEASE = r"/apis/coordination\.k8s\.io/v1/namespaces/default/leases/ray-operator-leader"
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def _wall(microtime: str) -> float:
    """A Lease's MicroTime as seconds since the epoch."""
    return (
        datetime.datetime.strptime(microtime, "%Y-%m-%dT%H:%M:%S.%fZ")
        .replace(tzinfo=datetime.UTC)
        .timestamp()
    )


def test_a_leader_cut_off_from_its_lease_stops_writing_before_a_standby_can_take_it(
    kubectl: Kubectl,
    namespace: str,
    proxy: FaultProxy,
    faulty: HostOperator,
    local_cluster: LocalCluster,
    tmp_path: Path,
) -> None:
    """The leader's Lease requests hang (a partition between it and the apiserver's Lease, while its
    other requests still pass); a standby waits the Lease duration and takes over. Measured from the
    apiserver's side: the deposed leader's last write arrives before the standby's acquireTime."""
    kubectl.apply(json.dumps(raycluster("busy")), namespace)
    wait_for(lambda: ready(kubectl, namespace, "busy"), 120, "the RayCluster to be ready", interval=1)
    standby = HostOperator(
        local_cluster.kubeconfig,
        tmp_path / "standby.log",
        extra=[
            "--watch-namespace",
            namespace,
            "--health-probe-bind-address",
            ":18082",
            "--metrics-addr",
            ":18080",
        ],
    )
    standby.start()
    try:
        holder = lambda: kubectl.json("get", "lease", "ray-operator-leader", "-n", "default")["spec"]  # noqa: E731
        leader = holder()["holderIdentity"]
        wall_minus_monotonic = time.time() - time.monotonic()
        cut = time.monotonic()
        for method in ("GET", "PUT"):
            proxy.add(Fault(method, LEASE, delay=40, times=-1))
        replicas = 0
        while holder()["holderIdentity"] == leader:  # work for the leader to do meanwhile
            assert time.monotonic() - cut < 60, "no standby took the Lease within 60 s"
            replicas = WORKERS - replicas
            scale(kubectl, namespace, "busy", replicas)
            time.sleep(1)
        acquired = _wall(holder()["acquireTime"]) - wall_minus_monotonic
        writes = [s.at for s in list(proxy.seen) if s.method in WRITES and not re.search(LEASE, s.path)]
        last_write = max(w for w in writes)
        print(
            f"Lease cut at 0; the leader's last write {last_write - cut:.1f} s; "
            f"the standby acquired {acquired - cut:.1f} s; margin {acquired - last_write:.1f} s; "
            f"{len([w for w in writes if w > cut])} writes by the leader after the cut"
        )
        assert last_write < acquired, (last_write - cut, acquired - cut)
        wait_for(
            lambda: faulty.process is not None and faulty.process.poll() is not None, 30, "the leader to exit"
        )
        wait_for(
            lambda: pods_of(kubectl, namespace, "busy") == {"head": 1, "worker": replicas},
            60,
            "the standby to reconcile",
        )
    finally:
        standby.stop()
