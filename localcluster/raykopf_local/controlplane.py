"""etcd, kube-apiserver, kube-controller-manager and kube-scheduler as local processes."""

from __future__ import annotations

import json
import shutil
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path

from raykopf_local import settings
from raykopf_local.kubeconfig import write_kubeconfig
from raykopf_local.paths import Layout
from raykopf_local.pki import Client, ensure_pki
from raykopf_local.proc import Processes

ADMIN = Client("admin", "raykopf-admin", ("system:masters",))
CONTROLLER_MANAGER = Client("controller-manager", "system:kube-controller-manager")
SCHEDULER = Client("scheduler", "system:kube-scheduler")
NODE = Client("node", f"system:node:{settings.NODE_NAME}", ("system:nodes",))
# kube-proxy's identity: the bootstrap role system:node-proxier lets it watch Services and Endpoints.
PROXY = Client("proxy", "system:kube-proxy")
CLIENTS = (ADMIN, CONTROLLER_MANAGER, SCHEDULER, NODE, PROXY)
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")

LOCAL_SERVER = f"https://127.0.0.1:{settings.APISERVER_PORT}"


class ControlPlane:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.processes = Processes(layout.state / "run", layout.logs)

    def kubeconfig(self, client: Client) -> Path:
        return self.layout.kubeconfig if client is ADMIN else self.layout.state / f"{client.file}.kubeconfig"

    def prepare_files(self) -> None:
        pki = self.layout.pki
        ensure_pki(
            pki, server_ips=("127.0.0.1", settings.BRIDGE_IP, settings.KUBERNETES_SERVICE_IP), clients=CLIENTS
        )
        for client in CLIENTS:
            write_kubeconfig(self.kubeconfig(client), server=LOCAL_SERVER, pki=pki, identity=client.file)

    def start(self) -> None:
        pki, bins = self.layout.pki, self.layout
        etcd_data = self.layout.state / "etcd"
        self.processes.start(
            "etcd",
            [
                str(bins.binary("etcd")),
                "--name",
                "raykopf",
                "--data-dir",
                str(etcd_data),
                "--listen-client-urls",
                f"http://127.0.0.1:{settings.ETCD_CLIENT_PORT}",
                "--advertise-client-urls",
                f"http://127.0.0.1:{settings.ETCD_CLIENT_PORT}",
                "--listen-peer-urls",
                f"http://127.0.0.1:{settings.ETCD_PEER_PORT}",
                "--initial-advertise-peer-urls",
                f"http://127.0.0.1:{settings.ETCD_PEER_PORT}",
                "--initial-cluster",
                f"raykopf=http://127.0.0.1:{settings.ETCD_PEER_PORT}",
                "--listen-metrics-urls",
                f"http://127.0.0.1:{settings.ETCD_METRICS_PORT}",
            ],
        )
        self.processes.start(
            "kube-apiserver",
            [
                str(bins.binary("kube-apiserver")),
                f"--etcd-servers=http://127.0.0.1:{settings.ETCD_CLIENT_PORT}",
                "--bind-address=0.0.0.0",
                f"--secure-port={settings.APISERVER_PORT}",
                f"--advertise-address={settings.BRIDGE_IP}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--kubelet-client-certificate={pki / 'admin.crt'}",
                f"--kubelet-client-key={pki / 'admin.key'}",
                "--authorization-mode=Node,RBAC",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-account-issuer={settings.SERVICE_ACCOUNT_ISSUER}",
                f"--api-audiences={settings.SERVICE_ACCOUNT_ISSUER}",
                f"--service-cluster-ip-range={settings.SERVICE_CIDR}",
                "--allow-privileged=true",
                "--enable-admission-plugins=NodeRestriction",
                "--profiling=false",
                "--kubelet-preferred-address-types=InternalIP",
                # Deleting a namespace deletes each kind of its objects with one DeleteCollection; with
                # the default single worker, thousands of Pods go one etcd write at a time (25/s here).
                "--delete-collection-workers=8",
            ],
        )
        # The controllers need the RBAC roles that the apiserver creates once it is ready.
        self.wait_ready(("etcd", "kube-apiserver"))
        self.processes.start(
            "kube-controller-manager",
            [
                str(bins.binary("kube-controller-manager")),
                f"--kubeconfig={self.kubeconfig(CONTROLLER_MANAGER)}",
                f"--authentication-kubeconfig={self.kubeconfig(CONTROLLER_MANAGER)}",
                f"--authorization-kubeconfig={self.kubeconfig(CONTROLLER_MANAGER)}",
                f"--service-account-private-key-file={pki / 'sa.key'}",
                f"--root-ca-file={pki / 'ca.crt'}",
                f"--cluster-signing-cert-file={pki / 'ca.crt'}",
                f"--cluster-signing-key-file={pki / 'ca.key'}",
                "--use-service-account-credentials=true",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={settings.CONTROLLER_MANAGER_PORT}",
                # The defaults (20 QPS) make endpoints and GC lag far behind thousands of simulated Pods.
                "--kube-api-qps=300",
                "--kube-api-burst=600",
            ],
        )
        self.processes.start(
            "kube-scheduler",
            [
                str(bins.binary("kube-scheduler")),
                f"--kubeconfig={self.kubeconfig(SCHEDULER)}",
                f"--authentication-kubeconfig={self.kubeconfig(SCHEDULER)}",
                f"--authorization-kubeconfig={self.kubeconfig(SCHEDULER)}",
                "--leader-elect=false",
                "--bind-address=127.0.0.1",
                f"--secure-port={settings.SCHEDULER_PORT}",
                # The default 50 QPS caps binding at 50 Pods/s, far below what the benchmarks create.
                "--kube-api-qps=500",
                "--kube-api-burst=1000",
            ],
        )

    def _get(self, path: str) -> bytes | None:
        """GET from the apiserver as the admin; None when it does not answer 200."""
        context = ssl.create_default_context(cafile=str(self.layout.pki / "ca.crt"))
        context.load_cert_chain(str(self.layout.pki / "admin.crt"), str(self.layout.pki / "admin.key"))
        try:
            with urllib.request.urlopen(f"{LOCAL_SERVER}{path}", context=context, timeout=2) as response:
                return bytes(response.read()) if response.status == 200 else None
        except (urllib.error.URLError, OSError):
            return None

    def ready(self) -> bool:
        return self._get("/readyz") is not None

    def version(self) -> str | None:
        """The apiserver's gitVersion (`kubectl version`'s server line), or None if it does not answer."""
        body = self._get("/version")
        return str(json.loads(body)["gitVersion"]) if body else None

    def wait_ready(self, components: tuple[str, ...] = COMPONENTS, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name in components:
                if self.processes.pid(name) is None:
                    raise RuntimeError(f"{name} exited; see {self.processes.log(name)}")
            if self.ready():
                return
            time.sleep(0.5)
        raise RuntimeError(
            f"the apiserver was not ready after {timeout:.0f} s; see {self.processes.log('kube-apiserver')}"
        )

    def stop(self) -> list[str]:
        return [name for name in reversed(COMPONENTS) if self.processes.stop(name, grace=10)]

    def running(self) -> dict[str, int | None]:
        return {name: self.processes.pid(name) for name in COMPONENTS}

    def wipe(self) -> None:
        shutil.rmtree(self.layout.state / "etcd", ignore_errors=True)
