"""The node agent: registers Nodes, keeps them Ready, and runs the pods bound to them.

A process-mode node runs real processes (`pods.PodWorker`); a simulated node (like KWOK) gives pods an
IP and reports them Running and Ready without starting anything, for scale tests of the operator.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
import signal
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from raykopf.k8s.client import ApiError, KubeClient
from raykopf_local import settings
from raykopf_local.agent import proxy, sandbox
from raykopf_local.agent.containers import Sources, service_env
from raykopf_local.agent.pods import PodEnvironment, PodWorker, now, runtime_path
from raykopf_local.agent.services import dns_records, hosts_file, translations
from raykopf_local.gomodule import Pins

KUBERNETES_VERSION = Pins.read().kubernetes
log = logging.getLogger("raykopf.node")

HEARTBEAT_SECONDS = 10
ALLOCATABLE = {"cpu": "16", "memory": "64Gi", "pods": "1000", "ephemeral-storage": "100Gi"}


def node_object(name: str, *, simulated: bool, allocatable: dict[str, str]) -> dict[str, Any]:
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "raykopf.io/simulated": str(simulated).lower(),
    }
    # Only pods that ask for a simulated node land on one.
    taints = [{"key": "raykopf.io/simulated", "value": "true", "effect": "NoSchedule"}] if simulated else []
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": taints},
    }


def node_status(name: str, allocatable: dict[str, str]) -> dict[str, Any]:
    stamp = now()
    ready = {
        "type": "Ready",
        "status": "True",
        "reason": "KubeletReady",
        "message": "raykopf node agent is posting ready status",
        "lastHeartbeatTime": stamp,
        "lastTransitionTime": stamp,
    }
    pressure = [
        {
            "type": kind,
            "status": "False",
            "reason": f"KubeletHasNo{kind}",
            "message": "",
            "lastHeartbeatTime": stamp,
            "lastTransitionTime": stamp,
        }
        for kind in ("MemoryPressure", "DiskPressure", "PIDPressure")
    ]
    return {
        "capacity": allocatable,
        "allocatable": allocatable,
        "conditions": [ready, *pressure],
        "addresses": [
            {"type": "InternalIP", "address": settings.BRIDGE_IP},
            {"type": "Hostname", "address": name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": settings.KUBELET_PORT}},
        "nodeInfo": {
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
            "kernelVersion": "",
            "osImage": "raykopf local",
            "containerRuntimeVersion": "raykopf-local://0.1",
            # The control plane's version: the agent stands in for that release's kubelet and kube-proxy.
            "kubeletVersion": KUBERNETES_VERSION,
            "kubeProxyVersion": KUBERNETES_VERSION,
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    }


class Node:
    """One registered Node and its heartbeat."""

    def __init__(
        self, client: KubeClient, name: str, *, simulated: bool, allocatable: dict[str, str]
    ) -> None:
        self.client = client
        self.name = name
        self.simulated = simulated
        self.allocatable = allocatable

    async def register(self) -> None:
        path = f"/api/v1/nodes/{self.name}"
        if await self.client.get(path) is None:
            await self.client.create(
                "/api/v1/nodes",
                node_object(self.name, simulated=self.simulated, allocatable=self.allocatable),
            )
        await self.heartbeat()

    async def heartbeat(self) -> None:
        await self.client.merge_patch(
            f"/api/v1/nodes/{self.name}/status", {"status": node_status(self.name, self.allocatable)}
        )
        lease_path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.name}"
        renew = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        spec = {"holderIdentity": self.name, "leaseDurationSeconds": 40, "renewTime": renew}
        if await self.client.get(lease_path) is None:
            await self.client.create(
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                {"metadata": {"name": self.name}, "spec": spec},
            )
        else:
            await self.client.merge_patch(lease_path, {"spec": spec})

    async def keep_ready(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                await self.heartbeat()
            except Exception as error:
                log.warning(
                    '{"event": "heartbeat-failed", "node": "%s", "error": "%s"}', self.name, str(error)[:200]
                )


async def watch_forever(client: KubeClient, path: str, handle: Any, **params: Any) -> None:
    """List, then watch from the list's resourceVersion; list again when the watch expires."""
    while True:
        try:
            listing = await client.request("GET", path, params=params or None)
            await handle("SYNC", listing.get("items") or [])
            version = listing["metadata"]["resourceVersion"]
            while True:
                async for event in client.watch(path, version, **params):
                    if event["type"] == "ERROR":
                        raise ApiError(int(event["object"].get("code", 500)), str(event["object"]))
                    version = event["object"]["metadata"].get("resourceVersion", version)
                    if event["type"] != "BOOKMARK":
                        await handle(event["type"], event["object"])
        except ApiError as error:
            if error.status != 410:
                log.warning('{"event": "watch-failed", "path": "%s", "error": "%s"}', path, str(error)[:200])
                await asyncio.sleep(1)
        except Exception as error:
            log.warning('{"event": "watch-failed", "path": "%s", "error": "%s"}', path, str(error)[:200])
            await asyncio.sleep(1)


class ProcessNode:
    """The node that runs pods as processes."""

    def __init__(
        self, client: KubeClient, name: str, state: Path, runtime_bin: Path, allocatable: dict[str, str]
    ) -> None:
        self.client = client
        self.node = Node(client, name, simulated=False, allocatable=allocatable)
        self.workers: dict[str, PodWorker] = {}
        self.terminating: set[str] = set()
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.services: dict[tuple[str, str], dict[str, Any]] = {}
        self.endpoint_slices: dict[tuple[str, str], dict[str, Any]] = {}
        self.dns_hosts = state / "dns" / "hosts"
        self.env = PodEnvironment(
            node_name=name,
            pods_dir=state / "pods",
            runtime_path=runtime_path(runtime_bin),
            addresses=sandbox.AddressPool(),
            report=self.report,
            event=self.event,
            sources=self.sources,
            service_env=self.service_env,
        )
        self._network_dirty = asyncio.Event()
        self._deletions: set[asyncio.Task[None]] = set()

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._deletions.add(task)
        task.add_done_callback(self._deletions.discard)

    async def report(self, pod: dict[str, Any], status: dict[str, Any]) -> None:
        meta = pod["metadata"]
        await self.client.merge_patch(
            f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status", {"status": status}
        )

    async def event(self, pod: dict[str, Any], kind: str, reason: str, message: str) -> None:
        meta = pod["metadata"]
        stamp = now()
        body = {
            "metadata": {"name": f"{meta['name']}.{uuid.uuid4().hex[:12]}", "namespace": meta["namespace"]},
            "involvedObject": {
                "kind": "Pod",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
                "apiVersion": "v1",
            },
            "reason": reason,
            "message": message,
            "type": kind,
            "count": 1,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "source": {"component": "kubelet", "host": self.node.name},
        }
        with contextlib.suppress(Exception):
            await self.client.create(f"/api/v1/namespaces/{meta['namespace']}/events", body)

    async def sources(self, pod: dict[str, Any], *, tokens: bool = False) -> Sources:
        """The ConfigMaps and Secrets the pod references, fetched now, and with `tokens` the service
        account tokens its projected volumes ask for (TokenRequests bound to the Pod, as kubelet makes
        them; an ApiError if one is refused)."""
        namespace, spec = pod["metadata"]["namespace"], pod["spec"]
        maps: set[str] = set()
        secrets: set[str] = set()
        requests: dict[str, dict[str, Any]] = {}
        for volume in spec.get("volumes") or []:
            if "configMap" in volume:
                maps.add(volume["configMap"]["name"])
            if "secret" in volume:
                secrets.add(volume["secret"]["secretName"])
            for source in (volume.get("projected") or {}).get("sources") or []:
                if "configMap" in source:
                    maps.add(source["configMap"]["name"])
                if "secret" in source:
                    secrets.add(source["secret"]["name"])
                if "serviceAccountToken" in source:
                    requests[Sources.token_key(source["serviceAccountToken"])] = source["serviceAccountToken"]
        for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            for source in container.get("envFrom") or []:
                if "configMapRef" in source:
                    maps.add(source["configMapRef"]["name"])
                if "secretRef" in source:
                    secrets.add(source["secretRef"]["name"])
            for var in container.get("env") or []:
                value_from = var.get("valueFrom") or {}
                if "configMapKeyRef" in value_from:
                    maps.add(value_from["configMapKeyRef"]["name"])
                if "secretKeyRef" in value_from:
                    secrets.add(value_from["secretKeyRef"]["name"])
        result = Sources()
        for name in maps:
            found = await self.client.get(f"/api/v1/namespaces/{namespace}/configmaps/{name}")
            if found is not None:
                result.config_maps[name] = Sources.config_map_data(found)
        for name in secrets:
            found = await self.client.get(f"/api/v1/namespaces/{namespace}/secrets/{name}")
            if found is not None:
                result.secrets[name] = Sources.decode_secret(found)
        for key, token in requests.items() if tokens else ():
            result.tokens[key] = await self.request_token(pod, token)
        return result

    async def request_token(self, pod: dict[str, Any], source: dict[str, Any]) -> str:
        """A TokenRequest for the Pod's service account, bound to the Pod (the Node authorizer allows a
        node exactly this for the Pods it runs)."""
        meta = pod["metadata"]
        account = pod["spec"].get("serviceAccountName") or "default"
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "audiences": [source["audience"]] if source.get("audience") else [],
                "expirationSeconds": int(source.get("expirationSeconds", 3600)),
                "boundObjectRef": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": meta["name"],
                    "uid": meta["uid"],
                },
            },
        }
        answer = await self.client.create(
            f"/api/v1/namespaces/{meta['namespace']}/serviceaccounts/{account}/token", body
        )
        return str(answer["status"]["token"])

    def service_env(self, namespace: str) -> dict[str, str]:
        return service_env(
            [
                s
                for (ns, _), s in sorted(self.services.items())
                if ns in (namespace, "default") and (ns == namespace or s["metadata"]["name"] == "kubernetes")
            ]
        )

    async def on_pod(self, kind: str, obj: Any) -> None:
        if kind == "SYNC":
            for item in obj:
                await self.on_pod("MODIFIED", item)
            return
        pod: dict[str, Any] = obj
        uid = pod["metadata"]["uid"]
        if kind == "DELETED":
            if uid in self.workers:
                await self._stop(uid, grace=0)
            return
        if pod["metadata"].get("deletionTimestamp"):
            if uid in self.workers and not self.workers[uid].stopping:
                grace = float(pod["metadata"].get("deletionGracePeriodSeconds", 30))
                self._background(self._delete(pod, grace))
            elif uid not in self.workers and uid not in self.terminating:
                self._background(self._final_delete(pod))  # e.g. left by an agent that was restarted
            return
        if uid in self.workers:
            self.workers[uid].update(pod)
            return
        if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return
        worker = PodWorker(self.env, pod)
        self.workers[uid] = worker
        self.tasks[uid] = asyncio.create_task(worker.run())

    async def _stop(self, uid: str, grace: float) -> None:
        worker = self.workers.pop(uid, None)
        if worker is not None:
            # Until its processes are gone the Pod object stays (kubelet's order): the deleter removes it.
            self.terminating.add(uid)
            try:
                await worker.terminate(grace)
            finally:
                self.terminating.discard(uid)
        task = self.tasks.pop(uid, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _delete(self, pod: dict[str, Any], grace: float) -> None:
        await self._stop(pod["metadata"]["uid"], grace)
        await self._final_delete(pod)

    async def _final_delete(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        body = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "gracePeriodSeconds": 0,
            "preconditions": {"uid": meta["uid"]},
        }
        with contextlib.suppress(ApiError):
            await self.client.delete(f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}", body)

    async def on_service(self, kind: str, obj: Any) -> None:
        self._cache(self.services, kind, obj)

    async def on_endpoint_slice(self, kind: str, obj: Any) -> None:
        self._cache(self.endpoint_slices, kind, obj)

    def _cache(self, cache: dict[tuple[str, str], dict[str, Any]], kind: str, obj: Any) -> None:
        if kind == "SYNC":
            cache.clear()
            cache.update({(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in obj})
        elif kind == "DELETED":
            cache.pop((obj["metadata"]["namespace"], obj["metadata"]["name"]), None)
        else:
            cache[(obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj
        self._network_dirty.set()

    async def network_sync(self, dns_pid: Any) -> None:
        """Rewrite the DNS hosts file (same inode) and the NAT rules whenever Services or EndpointSlices change."""
        while True:
            await self._network_dirty.wait()
            self._network_dirty.clear()
            services, slices = list(self.services.values()), list(self.endpoint_slices.values())
            self.dns_hosts.parent.mkdir(parents=True, exist_ok=True)
            with self.dns_hosts.open("a+") as out:
                out.seek(0)
                out.truncate()
                out.write(hosts_file(dns_records(services, slices)))
            pid = dns_pid()
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGHUP)
            try:
                await asyncio.to_thread(proxy.apply_rules, translations(services, slices))
            except RuntimeError as error:
                log.error('{"event": "proxy-rules-failed", "error": "%s"}', str(error)[:300])
                self._network_dirty.set()  # stale rules send traffic to gone Pods: try again (kube-proxy does)
            # kube-proxy's --iptables-min-sync-period: a burst of Service changes is one rewrite.
            await asyncio.sleep(MIN_SYNC_PERIOD)

    async def shutdown(self) -> None:
        await asyncio.gather(
            *(self._stop(uid, grace=30) for uid in list(self.workers)), return_exceptions=True
        )

    def log_lookup(self, namespace: str, pod: str, container: str, previous: bool) -> tuple[Path | None, Any]:
        worker = next((w for w in self.workers.values() if w.namespace == namespace and w.name == pod), None)
        if worker is None:
            return None, lambda: False
        return worker.log_file(container, previous), lambda: worker.pid(container) is not None


SIMULATED_WRITES = 32
MIN_SYNC_PERIOD = 1.0


class SimulatedNode:
    """A node that runs nothing: bound pods get an IP and become Running and Ready at once."""

    def __init__(self, client: KubeClient, name: str, addresses: sandbox.AddressPool) -> None:
        self.client = client
        self.node = Node(
            client,
            name,
            simulated=True,
            # Room for any sample's requests (and for both sides of a side-by-side run at once), and for
            # the benchmarks' 20,000 Pods (as many as the simulated address range holds, 32,766): a
            # worker Pod asks for 200m CPU and 256Mi (its wait-gcs-ready init container, KubeRay's
            # default), so 10,000 clusters of one worker need 2,100 CPU and 2.8 Ti.
            allocatable={
                **ALLOCATABLE,
                "cpu": "16000",
                "memory": "32Ti",
                "pods": "32000",
                "ephemeral-storage": "100Ti",
            },
        )
        self.addresses = addresses
        self.ips: dict[str, str] = {}
        # Status writes run concurrently (bounded), so thousands of Pods start in seconds, not minutes.
        self.writes = asyncio.Semaphore(SIMULATED_WRITES)
        self.pending: set[asyncio.Task[None]] = set()

    async def on_pod(self, kind: str, obj: Any) -> None:
        if kind == "SYNC":
            for item in obj:
                await self.on_pod("MODIFIED", item)
            return
        await self.writes.acquire()
        task = asyncio.create_task(self._handle(kind, obj))
        self.pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.pending.discard(task)
        self.writes.release()

    async def _handle(self, kind: str, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        if kind == "DELETED":
            if uid in self.ips:
                self.addresses.release(self.ips.pop(uid))
            return
        path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"
        if meta.get("deletionTimestamp"):
            body = {
                "kind": "DeleteOptions",
                "apiVersion": "v1",
                "gracePeriodSeconds": 0,
                "preconditions": {"uid": uid},
            }
            with contextlib.suppress(ApiError):
                await self.client.delete(path, body)
            return
        if uid in self.ips or pod.get("status", {}).get("phase") == "Running":
            return
        ip = self.ips[uid] = self.addresses.take()
        stamp = now()
        containers = [
            {
                "name": c["name"],
                "image": c.get("image", ""),
                "imageID": "",
                "ready": True,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": stamp}},
            }
            for c in pod["spec"]["containers"]
        ]
        conditions = [
            {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": stamp}
            for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
        ]
        status = {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "hostIP": settings.BRIDGE_IP,
            "startTime": stamp,
            "conditions": conditions,
            "containerStatuses": containers,
        }
        with contextlib.suppress(ApiError):
            await self.client.merge_patch(f"{path}/status", {"status": status})


def dnsmasq_argv(hosts: Path) -> list[str]:
    return [
        "dnsmasq",
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        f"--listen-address={settings.BRIDGE_IP}",
        "--bind-interfaces",
        f"--port={settings.DNS_PORT}",
        "--no-resolv",
        "--no-hosts",
        f"--addn-hosts={hosts}",
        f"--local=/{settings.CLUSTER_DOMAIN}/",
        "--domain-needed",
        "--log-facility=-",
        "--user=root",
    ]
