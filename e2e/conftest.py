"""Fixtures for tests on the local cluster: one cluster per session (reused when already running),
one namespace per test, and a dump of pods, events and logs when a test fails.

With RAYKOPF_E2E_KUBECONFIG set (`make e2e KUBECONFIG=...`) the suite runs against that cluster
instead, with the operator the chart installed there: tests that need the local cluster (its node
agent, simulated nodes, an operator or a peer run as processes on the host) are skipped with the
reason, and so are tests that reach Pod or Service IPs from the test process unless
RAYKOPF_E2E_POD_NETWORK=1 says this machine routes to them."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from raykopf_local.cluster import LocalCluster, operator_args
from raykopf_local.tools import ensure_helm

ROOT = Path(__file__).resolve().parents[1]
EXTERNAL = os.environ.get("RAYKOPF_E2E_KUBECONFIG", "")
# Fixtures that exist only on the local cluster, and why a test that uses one cannot run elsewhere.
# (The most specific first: the others use local_cluster too.)
LOCAL_FIXTURES = {
    "no_host_operator": "it installs its own operator and needs the host's stopped",
    "host_operator": "it runs, stops or restarts the operator as a process on the host",
    "local_cluster": "it drives the local cluster itself (its node agent, simulated nodes or processes)",
}
OPERATOR_SELECTOR = "app.kubernetes.io/name=raykopf-operator"


class Kubectl:
    """The kubectl built with the local cluster's control plane (never one that happens to be on PATH)."""

    def __init__(self, kubeconfig: Path, binary: Path) -> None:
        self.kubeconfig = kubeconfig
        self.binary = binary

    def run(
        self, *args: str, input: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binary), f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def __call__(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120) -> str:
        result = self.run(*args, input=input, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
            )
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json"))

    def apply(self, manifest: str, namespace: str) -> str:
        return self("apply", "-n", namespace, "-f", "-", input=manifest)


def raykopf(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The installed `raykopf` command (`raykopf local ...` runs the local cluster's own command)."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "raykopf"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last value: {last!r}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "local_only(reason): runs only on the local cluster, for the reason given"
    )
    config.addinivalue_line(
        "markers",
        "pod_network: reaches Pod or Service IPs from the test process (skipped on another cluster unless RAYKOPF_E2E_POD_NETWORK=1)",
    )
    config.addinivalue_line(
        "markers",
        "invalid_objects: applies an invalid object to see the operator report it (skipped on another "
        "cluster where raykopf's admission webhook refuses it first)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)
            if EXTERNAL:
                skip_off_the_local_cluster(item)
            # A bound for a hung test only: each wait names what it waited for when it times out,
            # and on a slow machine the longest tests take twice their usual 250 s.
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(600))


def skip_off_the_local_cluster(item: pytest.Item) -> None:
    needs = [why for name, why in LOCAL_FIXTURES.items() if name in getattr(item, "fixturenames", ())]
    marked = item.get_closest_marker("local_only")
    if marked:
        needs.insert(0, str(marked.args[0]))
    if needs:
        item.add_marker(pytest.mark.skip(reason=f"local cluster only: {needs[0]}"))
    elif item.get_closest_marker("invalid_objects") and webhook_registered():
        item.add_marker(
            pytest.mark.skip(
                reason="the cluster's raykopf admission webhook refuses invalid objects before the operator "
                "sees them (e2e/test_webhook.py covers the refusal); install with webhook.enabled=false to run it"
            )
        )
    elif item.get_closest_marker("pod_network") and os.environ.get("RAYKOPF_E2E_POD_NETWORK") != "1":
        item.add_marker(
            pytest.mark.skip(
                reason="reaches Pod or Service IPs from the test process; set RAYKOPF_E2E_POD_NETWORK=1 "
                "where this machine routes to them"
            )
        )


@functools.cache
def webhook_registered() -> bool:
    """Whether the cluster has raykopf's (KubeRay's) validating webhooks for ray.io registered."""
    listing = external_kubectl()("get", "validatingwebhookconfigurations", "-o", "json", check=False)
    names = {
        hook.get("name")
        for item in json.loads(listing or "{}").get("items", [])
        for hook in item.get("webhooks") or []
    }
    return bool(names & {"vraycluster.kb.io", "vrayjob.kb.io", "vrayservice.kb.io"})


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[LocalCluster]:
    cluster = LocalCluster()
    was_running = all(cluster.status().values())
    cluster.up(lambda line: print(f"[local cluster] {line}", file=sys.stderr, flush=True), simulated_nodes=1)
    yield cluster
    if not was_running:
        cluster.down(lambda line: print(f"[local cluster] {line}", file=sys.stderr, flush=True))


def external_kubectl() -> Kubectl:
    """kubectl for RAYKOPF_E2E_KUBECONFIG: RAYKOPF_E2E_KUBECTL, else the one on PATH, else the one
    built with the local cluster."""
    found = os.environ.get("RAYKOPF_E2E_KUBECTL") or shutil.which("kubectl")
    if not found:
        built = LocalCluster().kubectl
        if not built.exists():
            raise pytest.UsageError("no kubectl: put one on PATH or set RAYKOPF_E2E_KUBECTL")
        found = str(built)
    return Kubectl(Path(EXTERNAL), Path(found))


@pytest.fixture(scope="session")
def kubectl(request: pytest.FixtureRequest) -> Kubectl:
    if EXTERNAL:
        return external_kubectl()
    local: LocalCluster = request.getfixturevalue("local_cluster")
    return Kubectl(local.kubeconfig, local.kubectl)


RAY_KINDS = "rayclusters.ray.io,rayjobs.ray.io,rayservices.ray.io"


def drop_ray_finalizers(kubectl: Kubectl, namespace: str) -> None:
    """Drop the finalizers of every ray.io object in `namespace`, for when no operator is left to
    finish them (or, on simulated nodes, their GCS FT clean-up Jobs never end): they go, and their
    Pods with them."""
    for name in kubectl("get", RAY_KINDS, "-n", namespace, "-o", "name", check=False).split():
        patch = '{"metadata":{"finalizers":null}}'
        kubectl("patch", "-n", namespace, name, "--type=merge", "-p", patch, check=False)


def create_namespace(kubectl: Kubectl, name: str) -> None:
    kubectl("create", "namespace", name)
    # Pods are admitted only once the namespace's default ServiceAccount exists.
    wait_for(
        lambda: kubectl("get", "serviceaccount", "default", "-n", name, "-o", "name", check=False),
        30,
        "the default ServiceAccount",
    )


@pytest.fixture
def namespace(kubectl: Kubectl, request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    create_namespace(kubectl, name)
    yield name
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        print(f"\n--- pods, events and logs of namespace {name} ---", file=sys.stderr)
        print(kubectl("get", "pods", "-n", name, "-o", "wide", check=False), file=sys.stderr)
        print(kubectl("get", "events", "-n", name, "--sort-by=.lastTimestamp", check=False), file=sys.stderr)
        for pod in kubectl("get", "pods", "-n", name, "-o", "name", check=False).split():
            print(f"--- logs of {pod} ---", file=sys.stderr)
            print(
                kubectl("logs", "-n", name, pod, "--all-containers", "--tail=50", check=False)[-4000:],
                file=sys.stderr,
            )
    # A Ray head outlives SIGTERM (its gcs_server and raylet stay until the 30 s grace ends): once
    # nothing would recreate them, the test's Pods go at once, then the namespace.
    kubectl("delete", RAY_KINDS, "--all", "-n", name, "--wait=false", check=False)
    kubectl("delete", "pods", "--all", "-n", name, "--grace-period=0", "--force", "--wait=false", check=False)
    # The ray.io objects go before the namespace does: the namespace controller backs off (up to
    # minutes) each time it finds content it cannot delete yet.
    deadline = time.monotonic() + 10
    while kubectl("get", RAY_KINDS, "-n", name, "-o", "name", check=False).strip():
        if time.monotonic() > deadline:
            # No operator is left to finish their finalizers (the test stopped or uninstalled it).
            drop_ray_finalizers(kubectl, name)
            break
        time.sleep(0.5)
    kubectl("delete", "namespace", name, "--wait=true", "--timeout=120s", check=False, timeout=150)


class HostOperator:
    """`raykopf run` on the host, as a child process; tests of the installed operator stop it."""

    def __init__(
        self, kubeconfig: Path, log: Path, extra: list[str] | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.kubeconfig, self.log, self.extra, self.env = kubeconfig, log, extra or [], env or {}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "raykopf", "run", *operator_args(self.kubeconfig), *self.extra],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
            )
        time.sleep(3)
        assert self.process.poll() is None, self.log.read_text()

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()  # it releases the Lease on the way out
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@pytest.fixture(scope="session")
def host_operator(
    local_cluster: LocalCluster, kubectl: Kubectl, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HostOperator]:
    kubectl("apply", "-f", str(ROOT / "crds"))
    kubectl("wait", "--for=condition=Established", "crd/rayclusters.ray.io")
    host = HostOperator(local_cluster.kubeconfig, tmp_path_factory.mktemp("operator") / "operator.log")
    yield host
    host.stop()
    if host.log.exists():
        print(host.log.read_text()[-3000:], file=sys.stderr)


class InstalledOperatorLog:
    """The log of the operator the chart installed (every replica's), read when asked."""

    def __init__(self, kubectl: Kubectl) -> None:
        self.kubectl = kubectl

    def read_text(self) -> str:
        return self.kubectl("logs", "-A", "-l", OPERATOR_SELECTOR, "--tail=-1", "--prefix", check=False)


def installed_operator(kubectl: Kubectl) -> InstalledOperatorLog:
    """The operator the chart installed into the cluster is ready, or the suite says how to install it."""
    pods = kubectl.json("get", "pods", "-A", "-l", OPERATOR_SELECTOR)["items"]
    ready = [
        p
        for p in pods
        if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])
    ]
    if not ready:
        pytest.fail(
            f"no ready raykopf operator Pod (label {OPERATOR_SELECTOR}) in the cluster of {kubectl.kubeconfig}: "
            "install it with `helm install raykopf helm/raykopf -n raykopf-system --create-namespace` "
            "(see docs/development.md)",
            pytrace=False,
        )
    return InstalledOperatorLog(kubectl)


@pytest.fixture
def operator(request: pytest.FixtureRequest, kubectl: Kubectl) -> Path | InstalledOperatorLog:
    """The operator runs: on the local cluster as a process on the host (started on first use, kept
    for the session; its log file), on another cluster as the chart installed it (its Pods' logs)."""
    if EXTERNAL:
        return installed_operator(kubectl)
    host_operator: HostOperator = request.getfixturevalue("host_operator")
    if host_operator.process is None:
        host_operator.start()
    return host_operator.log


@pytest.fixture
def no_host_operator(host_operator: HostOperator) -> None:
    """Tests of an operator installed into the cluster: no other operator may reconcile meanwhile."""
    host_operator.stop()


class Helm:
    def __init__(self, binary: Path, kubeconfig: Path) -> None:
        self.binary, self.kubeconfig = binary, kubeconfig

    def __call__(self, *args: str) -> str:
        result = subprocess.run(
            [str(self.binary), f"--kubeconfig={self.kubeconfig}", *args],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert result.returncode == 0, f"helm {' '.join(args)}: {result.stderr}"
        return result.stdout


@pytest.fixture(scope="module")
def helm(local_cluster: LocalCluster) -> Helm:
    return Helm(ensure_helm(local_cluster.layout, lambda line: None), local_cluster.kubeconfig)


@pytest.fixture
def release_namespace(kubectl: Kubectl, helm: Helm, no_host_operator: None) -> Iterator[str]:
    name = f"rk-{uuid.uuid4().hex[:8]}"
    create_namespace(kubectl, name)
    yield name
    helm("uninstall", "raykopf", "-n", name, "--wait", "--ignore-not-found")
    # The webhook configuration is cluster-wide and refuses every ray.io request while its Service has
    # no Pod: never left behind by a test that failed half-way.
    kubectl(
        "delete", "validatingwebhookconfiguration", "-l", "app.kubernetes.io/instance=raykopf", check=False
    )
    kubectl("delete", "namespace", name, "--wait=true", "--timeout=120s", check=False, timeout=150)
