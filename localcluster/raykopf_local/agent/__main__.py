"""`python -m raykopf_local.agent`: the node agent process that `raykopf local up` starts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import subprocess
from pathlib import Path

from raykopf.k8s.client import KubeClient
from raykopf_local import settings
from raykopf_local.agent import kubelet_api, sandbox
from raykopf_local.agent.node import (
    ALLOCATABLE,
    HEARTBEAT_SECONDS,
    ProcessNode,
    SimulatedNode,
    dnsmasq_argv,
    watch_forever,
)
from raykopf_local.pki import ensure_server_cert


async def main(args: argparse.Namespace) -> None:
    state: Path = args.state
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks: list[asyncio.Task[None]] = []
    dns: subprocess.Popen[bytes] | None = None
    process_node: ProcessNode | None = None
    clients: list[KubeClient] = []
    if not args.simulate_only:
        sandbox.remove_stale()
        client = KubeClient.from_kubeconfig(state / "node.kubeconfig")
        proxy_client = KubeClient.from_kubeconfig(state / "proxy.kubeconfig")
        clients += [client, proxy_client]
        allocatable = {**ALLOCATABLE, "cpu": args.cpu, "memory": args.memory}
        process_node = ProcessNode(client, settings.NODE_NAME, state, args.runtime_bin, allocatable)
        process_node.dns_hosts.parent.mkdir(parents=True, exist_ok=True)
        process_node.dns_hosts.touch()
        dns = subprocess.Popen(
            dnsmasq_argv(process_node.dns_hosts),
            stdout=(state / "logs" / "dnsmasq.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        await process_node.node.register()
        ensure_server_cert(state / "pki", "kubelet", (settings.BRIDGE_IP, "127.0.0.1"))
        kubelet_api.serve(
            settings.BRIDGE_IP,
            settings.KUBELET_PORT,
            state / "pki" / "kubelet.crt",
            state / "pki" / "kubelet.key",
            process_node.log_lookup,
        )
        node_selector = f"spec.nodeName={settings.NODE_NAME}"
        tasks += [
            asyncio.create_task(process_node.node.keep_ready()),
            asyncio.create_task(watch_forever(proxy_client, "/api/v1/services", process_node.on_service)),
            asyncio.create_task(
                watch_forever(
                    proxy_client, "/apis/discovery.k8s.io/v1/endpointslices", process_node.on_endpoint_slice
                )
            ),
            asyncio.create_task(process_node.network_sync(lambda: dns.pid if dns else None)),
            asyncio.create_task(
                watch_forever(client, "/api/v1/pods", process_node.on_pod, fieldSelector=node_selector)
            ),
        ]
    if args.simulated_nodes:
        admin = KubeClient.from_kubeconfig(state / "admin.kubeconfig")
        clients.append(admin)
        # Simulated pods get addresses from the upper half of the pod range, away from real pods.
        pool = sandbox.AddressPool(start="198.18.128.1", end="198.18.255.254")
        for index in range(args.simulated_nodes):
            node = SimulatedNode(admin, f"raykopf-sim-{index}", pool)
            await node.node.register()
            tasks += [
                asyncio.create_task(node.node.keep_ready()),
                asyncio.create_task(
                    watch_forever(
                        admin, "/api/v1/pods", node.on_pod, fieldSelector=f"spec.nodeName={node.node.name}"
                    )
                ),
            ]
    logging.getLogger("raykopf.node").info(
        '{"event": "node-agent-started", "heartbeat": %d}', HEARTBEAT_SECONDS
    )
    await stop.wait()
    for task in tasks:
        task.cancel()
    if process_node is not None:
        await process_node.shutdown()
    if dns is not None:
        dns.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            dns.wait(5)
    for client in clients:
        await client.close()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m raykopf_local.agent")
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--runtime-bin", type=Path, required=True)
    parser.add_argument("--simulated-nodes", type=int, default=0)
    parser.add_argument("--cpu", default=ALLOCATABLE["cpu"], help="allocatable CPU of the process node")
    parser.add_argument(
        "--memory", default=ALLOCATABLE["memory"], help="allocatable memory of the process node"
    )
    parser.add_argument("--simulate-only", action="store_true", help="register only simulated nodes")
    return parser.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("aiohttp").setLevel(logging.WARNING)
    asyncio.run(main(parse()))
