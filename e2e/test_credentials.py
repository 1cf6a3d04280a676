"""Every form of kubeconfig a platform engineer hands the operator, against the real apiserver: an exec
credential plugin (as EKS, GKE and AKS use), certificate and key files, tokenFile, merged files,
`--context`, `tls-server-name`, `proxy-url`; who the apiserver says the client is (SelfSubjectReview)
proves which credential was used. And the operator itself (raykopf's client and kopf's watches) runs
on an exec-plugin kubeconfig, its plugin run once."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from tests.unit.k8s.test_credentials import calls, exec_plugin

from e2e.conformance.cases import simulated_raycluster_spec
from e2e.conftest import ROOT, Kubectl, wait_for
from raykopf.k8s.client import KubeClient
from raykopf_local.cluster import LocalCluster

REVIEW = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
ACCOUNT = "credentials-e2e"


def who(client: KubeClient) -> str:
    """The user the apiserver authenticated the client as."""

    async def ask() -> str:
        try:
            review = await client.create("/apis/authentication.k8s.io/v1/selfsubjectreviews", REVIEW)
            return str(review["status"]["userInfo"]["username"])
        finally:
            await client.close()

    return asyncio.run(ask())


@pytest.fixture(scope="module")
def cluster(local_cluster: LocalCluster) -> dict[str, Any]:
    """The local cluster's server and CA, from its admin kubeconfig."""
    config = yaml.safe_load(local_cluster.kubeconfig.read_text())
    return dict(config["clusters"][0]["cluster"])


@pytest.fixture(scope="module")
def token(kubectl: Kubectl) -> Iterator[str]:
    """A ServiceAccount token (TokenRequest) of an account allowed to read the cluster."""
    kubectl("create", "serviceaccount", ACCOUNT, "-n", "default", check=False)
    kubectl(
        "create",
        "clusterrolebinding",
        ACCOUNT,
        "--clusterrole=cluster-admin",
        f"--serviceaccount=default:{ACCOUNT}",
        check=False,
    )
    yield kubectl("create", "token", ACCOUNT, "-n", "default", "--duration=1h").strip()
    kubectl("delete", "clusterrolebinding", ACCOUNT, check=False)
    kubectl("delete", "serviceaccount", ACCOUNT, "-n", "default", check=False)


SERVICE_ACCOUNT_USER = f"system:serviceaccount:default:{ACCOUNT}"


def write(
    path: Path, cluster: dict[str, Any], users: dict[str, dict[str, Any]], current: str | None = None
) -> Path:
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": cluster}],
        "users": [{"name": name, "user": user} for name, user in users.items()],
        "contexts": [{"name": name, "context": {"cluster": "local", "user": name}} for name in users],
    }
    if current:
        config["current-context"] = current
    path.write_text(yaml.safe_dump(config))
    return path


def test_an_exec_plugin_token_is_used_and_renewed_on_a_401(
    cluster: dict[str, Any], token: str, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "config", cluster, {"eks": exec_plugin(tmp_path, ("expired-or-revoked", token))}, "eks"
    )
    assert who(KubeClient.from_kubeconfig(path)) == SERVICE_ACCOUNT_USER
    assert calls(tmp_path) == 2  # the first token got a 401; the plugin ran again; the request was retried


def test_certificate_and_key_files(
    cluster: dict[str, Any], local_cluster: LocalCluster, tmp_path: Path
) -> None:
    pki = local_cluster.kubeconfig.parent / "pki"
    files = {"server": cluster["server"], "certificate-authority": str(pki / "ca.crt")}
    user = {"client-certificate": str(pki / "admin.crt"), "client-key": str(pki / "admin.key")}
    assert (
        who(KubeClient.from_kubeconfig(write(tmp_path / "config", files, {"admin": user}, "admin")))
        == "raykopf-admin"
    )


def test_token_file_merged_files_and_context(cluster: dict[str, Any], token: str, tmp_path: Path) -> None:
    (tmp_path / "token").write_text(token + "\n")
    users = {"from-file": {"tokenFile": str(tmp_path / "token")}, "bad": {"token": "not-a-token"}}
    clusters = write(tmp_path / "clusters", cluster, users)
    current = tmp_path / "current"
    current.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "from-file"}))
    assert who(KubeClient.from_kubeconfig([clusters, current])) == SERVICE_ACCOUNT_USER
    assert who(KubeClient.from_kubeconfig([clusters], context="from-file")) == SERVICE_ACCOUNT_USER


def test_tls_server_name_is_what_the_certificate_is_checked_against(
    cluster: dict[str, Any], token: str, tmp_path: Path
) -> None:
    named = {**cluster, "tls-server-name": "kubernetes.default"}
    assert (
        who(KubeClient.from_kubeconfig(write(tmp_path / "ok", named, {"sa": {"token": token}}, "sa")))
        == SERVICE_ACCOUNT_USER
    )
    wrong = {**cluster, "tls-server-name": "wrong.example"}
    with pytest.raises(aiohttp.ClientConnectorCertificateError, match=r"wrong\.example"):
        who(KubeClient.from_kubeconfig(write(tmp_path / "wrong", wrong, {"sa": {"token": token}}, "sa")))


@contextlib.contextmanager
def connect_proxy() -> Iterator[tuple[str, list[str]]]:
    """An HTTP CONNECT proxy on localhost, in a thread of its own, that records each tunnel it opens;
    it closes its sockets and its event loop on the way out."""
    tunnels: list[str] = []
    started: queue.Queue[tuple[asyncio.AbstractEventLoop, asyncio.Event, int]] = queue.Queue()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        target = request.split(b" ")[1].decode()
        tunnels.append(target)
        host, port = target.rsplit(":", 1)
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    async def serve() -> None:
        stop = asyncio.Event()
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        started.put((asyncio.get_running_loop(), stop, server.sockets[0].getsockname()[1]))
        await stop.wait()
        server.close()
        await server.wait_closed()
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    loop, stop, port = started.get(timeout=10)
    try:
        yield f"http://127.0.0.1:{port}", tunnels
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


def test_proxy_url_carries_the_connection(cluster: dict[str, Any], token: str, tmp_path: Path) -> None:
    with connect_proxy() as (url, tunnels):
        proxied = {**cluster, "proxy-url": url}
        assert (
            who(
                KubeClient.from_kubeconfig(
                    write(tmp_path / "config", proxied, {"sa": {"token": token}}, "sa")
                )
            )
            == SERVICE_ACCOUNT_USER
        )
    assert tunnels == [cluster["server"].removeprefix("https://")]


def test_clear_errors_for_a_missing_context_and_a_failing_plugin(
    cluster: dict[str, Any], tmp_path: Path
) -> None:
    path = write(tmp_path / "config", cluster, {"sa": {"token": "t"}}, "sa")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "raykopf",
            "run",
            f"--kubeconfig={path}",
            "--context=prod",
            "--health-probe-bind-address=0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip().splitlines()[-1]
        == f"raykopf run: error: kubeconfig {path}: no context 'prod' (contexts: sa)"
    )
    failing = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "false",
            "interactiveMode": "Never",
        }
    }
    broken = write(tmp_path / "broken", cluster, {"gke": failing}, "gke")
    result = subprocess.run(
        [sys.executable, "-m", "raykopf", "run", f"--kubeconfig={broken}", "--health-probe-bind-address=0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"raykopf run: error: kubeconfig {broken}, context 'gke': exec: process returned 1"
    ), last


def test_the_operator_runs_on_an_exec_plugin_kubeconfig(
    cluster: dict[str, Any],
    token: str,
    kubectl: Kubectl,
    namespace: str,
    no_host_operator: None,
    tmp_path: Path,
) -> None:
    """raykopf's client, its Lease and kopf's watches all authenticate through the one plugin run."""
    path = write(tmp_path / "config", cluster, {"aks": exec_plugin(tmp_path, (token,))}, "aks")
    with (tmp_path / "operator.log").open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "raykopf",
                "run",
                f"--kubeconfig={path}",
                "--use-kubernetes-proxy",
                f"--watch-namespace={namespace}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def ready() -> bool:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen("http://127.0.0.1:8082/readyz", timeout=2) as answer,
            ):
                return bool(answer.status == 200)
            return False

        wait_for(ready, 60, "the operator to be ready")
        sample = yaml.safe_load((ROOT / "manifests" / "samples" / "raycluster.sample.yaml").read_text())
        sample["spec"] = simulated_raycluster_spec(sample["spec"])  # Pods on the simulated node: no Ray runs
        kubectl.apply(yaml.safe_dump(sample), namespace)
        wait_for(
            lambda: kubectl(
                "get", "pods", "-n", namespace, "-l", "ray.io/cluster=raycluster-sample", "-o", "name"
            ).strip(),
            60,
            "Pods created by the operator",
        )
        assert calls(tmp_path) == 1
    finally:
        process.terminate()
        process.wait(30)
        kubectl("delete", "rayclusters", "--all", "-n", namespace, "--wait=false", check=False)
