"""`raykopf local up|down|status`: the whole local cluster, started and stopped as one."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from raykopf.api.registry import KINDS
from raykopf.crdgen import render
from raykopf.k8s.client import KubeClient
from raykopf_local import kuberay, kueue, network, settings
from raykopf_local.agent import proxy, sandbox
from raykopf_local.build import prepare
from raykopf_local.controlplane import COMPONENTS, ControlPlane
from raykopf_local.paths import Layout
from raykopf_local.proc import Processes
from raykopf_local.runtime_env import ensure_runtime
from raykopf_local.tools import ensure_helm

Say = Callable[[str], None]
AGENT = "node-agent"
OPERATOR = "operator"


def operator_args(kubeconfig: Path) -> list[str]:
    """`raykopf run` on the host: cluster DNS names do not resolve here, so dashboards go through the apiserver."""
    return ["--kubeconfig", str(kubeconfig), "--use-kubernetes-proxy"]


CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


async def install_crds(kubeconfig: Path) -> None:
    """Create or update the generated CRDs (what `kubectl apply -f crds/` does)."""
    client = KubeClient.from_kubeconfig(kubeconfig)
    try:
        for kind in KINDS:
            body = render(kind)
            existing = await client.get(f"{CRD_PATH}/{body['metadata']['name']}")
            if existing is None:
                await client.create(CRD_PATH, body)
            else:
                body["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
                await client.request("PUT", f"{CRD_PATH}/{body['metadata']['name']}", body=body)
    finally:
        await client.close()


class LocalClusterError(RuntimeError):
    pass


def _require_root() -> None:
    if os.geteuid() != 0:
        raise LocalClusterError(
            "the local cluster needs root (network namespaces, mounts, iptables); run it as root"
        )


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _mounts_under(folder: Path) -> list[str]:
    return [
        line.split()[1]
        for line in Path("/proc/mounts").read_text().splitlines()
        if line.split()[1].startswith(str(folder))
    ]


class LocalCluster:
    def __init__(self, layout: Layout | None = None) -> None:
        self.layout = layout or Layout.default()
        self.control_plane = ControlPlane(self.layout)
        self.processes = Processes(self.layout.state / "run", self.layout.logs)

    @property
    def kubeconfig(self) -> Path:
        return self.layout.kubeconfig

    @property
    def kubectl(self) -> Path:
        """The kubectl built with the control plane (same version as the apiserver)."""
        return self.layout.binary("kubectl")

    def server_version(self) -> str | None:
        return self.control_plane.version()

    def prepare(self, say: Say, *, with_kuberay: bool = False, with_kueue: bool = False) -> Path:
        """Install and build what the cluster needs (cached); return the Ray runtime's bin directory."""
        _require_root()
        prepare(self.layout, say)
        ensure_helm(self.layout, say)
        if with_kuberay:
            kuberay.build(self.layout.cache, say)
        if with_kueue:
            kueue.KUEUE.build(self.layout.cache, say)
        return ensure_runtime(self.layout, say)

    def start_kuberay(
        self,
        say: Say,
        watch_namespaces: list[str],
        *,
        leader_election_namespace: str | None = None,
        env: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> int:
        """Start KubeRay's operator (built on first use) as a peer owning `watch_namespaces`, with
        `env` (its ENABLE_* knobs, say) over the host's environment and `extra_args` (its
        `--reconcile-concurrency`, say) after the peer's own flags; return its PID.

        A peer already running with other flags or env is restarted with these."""
        binary = kuberay.build(self.layout.cache, say)
        argv = [
            str(binary),
            *kuberay.peer_args(
                self.kubeconfig, watch_namespaces, leader_election_namespace=leader_election_namespace
            ),
            *extra_args,
        ]
        pid = self.processes.start_as(kuberay.PROCESS, argv, grace=20, env=env)
        knobs = "".join(f"; {key}={value}" for key, value in sorted((env or {}).items()))
        knobs += "".join(f"; {arg}" for arg in extra_args)
        say(
            f"KubeRay's operator runs (pid {pid}; owns {','.join(watch_namespaces)}{knobs}; "
            f"log: {self.processes.log(kuberay.PROCESS)})"
        )
        return pid

    def stop_kuberay(self) -> bool:
        """Stop the KubeRay peer (it releases its Lease, if any, on SIGTERM); False if none ran."""
        return self.processes.stop(kuberay.PROCESS, grace=20)

    def start_kueue(self, say: Say) -> int:
        """Start Kueue (built on first use) with its CRDs and webhooks installed; return its PID once
        it answers its readiness probe."""
        binary = kueue.KUEUE.build(self.layout.cache, say)
        state = self.layout.state / "kueue"
        state.mkdir(parents=True, exist_ok=True)
        kubectl = kueue.kubectl_runner(self.kubectl, self.kubeconfig)
        kueue.install(kubectl, kueue.KUEUE.source(), (self.layout.pki / "ca.crt").read_bytes(), state)
        config = state / "config.yaml"
        config.write_text(yaml.safe_dump(kueue.configuration(kueue.certificates(self.layout.pki, state))))
        argv = [str(binary), *kueue.args(self.kubeconfig, config)]
        pid = self.processes.start_as(kueue.PROCESS, argv, grace=20)
        log = self.processes.log(kueue.PROCESS)
        deadline = time.monotonic() + 120
        while not kueue.ready():
            if self.processes.pid(kueue.PROCESS) is None or time.monotonic() > deadline:
                raise LocalClusterError(f"Kueue did not become ready; see {log}")
            time.sleep(0.5)
        say(f"Kueue {kueue.KUEUE.version} runs (pid {pid}; log: {log})")
        return pid

    def stop_kueue(self) -> bool:
        """Stop Kueue and remove its webhooks; False if it was not running."""
        state = self.layout.state / "kueue"
        if (state / "webhooks.yaml").exists() and self.processes.pid("kube-apiserver") is not None:
            kueue.uninstall(kueue.kubectl_runner(self.kubectl, self.kubeconfig), state)
        return self.processes.stop(kueue.PROCESS, grace=20)

    def up(
        self,
        say: Say,
        *,
        simulated_nodes: int = 0,
        simulate_only: bool = False,
        cpu: str = "16",
        memory: str = "64Gi",
        operator: bool = False,
    ) -> None:
        started = time.monotonic()
        runtime = self.prepare(say)
        checks = (
            ("etcd", "127.0.0.1", settings.ETCD_CLIENT_PORT),
            ("kube-apiserver", "0.0.0.0", settings.APISERVER_PORT),
        )
        for component, host, port in checks:
            if self.processes.pid(component) is None and _port_in_use(host, port):
                raise LocalClusterError(f"port {port} (for {component}) is already in use by another program")
        for optional in (OPERATOR, kuberay.PROCESS, kueue.PROCESS):
            # A record left by an earlier run (crashed, or the machine restarted): `local status`
            # reports what this run starts.
            if self.processes.forget_if_gone(optional):
                say(f"forgot the {optional} of an earlier run (no longer running)")
        network.ensure_bridge()
        self.control_plane.prepare_files()
        say("starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler")
        self.control_plane.start()
        self.control_plane.wait_ready()
        self._start_agent(
            runtime, simulated_nodes=simulated_nodes, simulate_only=simulate_only, cpu=cpu, memory=memory
        )
        asyncio.run(install_crds(self.kubeconfig))
        say("installed the ray.io CRDs")
        if operator:
            self.processes.start(
                OPERATOR, [sys.executable, "-m", "raykopf", "run", *operator_args(self.kubeconfig)]
            )
            say(f"started the operator (log: {self.processes.log(OPERATOR)})")
        say(f"ready in {time.monotonic() - started:.0f} s")
        say(f"kubeconfig: {self.kubeconfig}   (export KUBECONFIG={self.kubeconfig})")

    def _start_agent(
        self, runtime: Path, *, simulated_nodes: int, simulate_only: bool, cpu: str, memory: str
    ) -> None:
        argv = [
            sys.executable,
            "-m",
            "raykopf_local.agent",
            "--state",
            str(self.layout.state),
            "--runtime-bin",
            str(runtime),
            "--simulated-nodes",
            str(simulated_nodes),
            "--cpu",
            cpu,
            "--memory",
            memory,
        ]
        if simulate_only:
            argv.append("--simulate-only")
        # Asked for other nodes: the agent restarts (and every Pod with it).
        self.processes.start_as(AGENT, argv, grace=60)

    def down(self, say: Say) -> None:
        _require_root()
        if self.processes.stop(OPERATOR, grace=20):
            say("stopped the operator")
        if self.stop_kuberay():
            say("stopped KubeRay's operator")
        if self.stop_kueue():
            say("stopped Kueue")
        if self.processes.stop(AGENT, grace=60):
            say("stopped the node agent (and every pod)")
        stopped = self.control_plane.stop()
        if stopped:
            say(f"stopped {', '.join(stopped)}")
        sandbox.remove_stale()
        proxy.remove_rules()
        network.remove_bridge()
        pods = self.layout.state / "pods"
        if pods.exists():
            for mount in sorted(_mounts_under(pods), key=len, reverse=True):
                network.sh("umount", "-l", mount, check=False)
            shutil.rmtree(pods, ignore_errors=True)
        self.control_plane.wipe()
        say("removed the pod network and the cluster's data")

    def status(self) -> dict[str, int | None]:
        names = (*COMPONENTS, AGENT)
        status = {name: self.processes.pid(name) for name in names}
        for optional in (OPERATOR, kuberay.PROCESS, kueue.PROCESS):
            if (self.layout.state / "run" / f"{optional}.pid").exists():
                status[optional] = self.processes.pid(optional)
        return status

    def pod_log(self, namespace: str, pod: str, container: str | None) -> Path | None:
        """The newest log file of a container of a pod this node runs (by name; first container if None)."""
        body = asyncio.run(_get(self.kubeconfig, f"/api/v1/namespaces/{namespace}/pods/{pod}"))
        if body is None:
            return None
        name = container or body["spec"]["containers"][0]["name"]
        folder = self.layout.state / "pods" / body["metadata"]["uid"] / "containers" / name
        logs = sorted(folder.glob("*.log"), key=lambda p: int(p.stem)) if folder.exists() else []
        return logs[-1] if logs else None


async def _get(kubeconfig: Path, path: str) -> dict[str, Any] | None:
    client = KubeClient.from_kubeconfig(kubeconfig)
    try:
        return await client.get(path)
    finally:
        await client.close()
