"""A pod's sandbox on the host: a network namespace with a veth on the bridge, the pod's own
/etc/hosts, resolv.conf and hostname (which `ip netns exec` mounts over /etc), and its volumes."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raykopf_local import settings
from raykopf_local.agent.containers import ConfigError, Sources, downward_api_files
from raykopf_local.network import pod_mac, sh

NETNS_PREFIX = "rk-"
NETNS_ETC = Path("/etc/netns")


@dataclass(frozen=True)
class Sandbox:
    uid: str
    ip: str
    directory: Path

    @property
    def netns(self) -> str:
        return NETNS_PREFIX + self.uid[:13]

    @property
    def veth_host(self) -> str:
        return "rkh" + self.uid[:8]

    def volume(self, name: str) -> Path:
        return self.directory / "volumes" / name

    def container_dir(self, name: str) -> Path:
        return self.directory / "containers" / name

    @property
    def shm(self) -> Path:
        return self.directory / "shm"


class AddressPool:
    """Pod IPs from the pod CIDR, skipping the network, the bridge and the broadcast address. Like
    host-local IPAM, addresses are handed out in turn and a released one only when no fresh one is
    left: whatever still points at a gone Pod's address (a lagging Endpoints object, a connection
    table entry) does not reach a new Pod."""

    def __init__(self, start: str = "198.18.0.2", end: str = "198.18.127.254") -> None:
        first, last = int(ipaddress.ip_address(start)), int(ipaddress.ip_address(end))
        self._free = (
            str(ipaddress.ip_address(n))
            for n in range(first, last + 1)
            if str(ipaddress.ip_address(n)) != settings.BRIDGE_IP
        )
        self._released: list[str] = []

    def take(self) -> str:
        fresh = next(self._free, None)
        if fresh is not None:
            return fresh
        if not self._released:
            raise RuntimeError("no Pod IP left")
        return self._released.pop(0)

    def release(self, ip: str) -> None:
        self._released.append(ip)


def create(sandbox: Sandbox, *, hostname: str, fqdn: str | None, namespace: str) -> None:
    """Network namespace, veth pair on the bridge, addresses, routes and /etc files."""
    ns, host_if, pod_if = sandbox.netns, sandbox.veth_host, "rkp" + sandbox.uid[:8]
    for sub in ("volumes", "containers"):
        (sandbox.directory / sub).mkdir(parents=True, exist_ok=True)
    sandbox.shm.mkdir(exist_ok=True)
    if not os.path.ismount(sandbox.shm):
        sh("mount", "-t", "tmpfs", "-o", "size=2g,mode=1777", "tmpfs", str(sandbox.shm))
    etc = NETNS_ETC / ns
    etc.mkdir(parents=True, exist_ok=True)
    names = f"{hostname} {fqdn} " if fqdn else f"{hostname} "
    (etc / "hosts").write_text(f"127.0.0.1\tlocalhost\n::1\tlocalhost\n{sandbox.ip}\t{names.strip()}\n")
    search = (
        f"{namespace}.svc.{settings.CLUSTER_DOMAIN} svc.{settings.CLUSTER_DOMAIN} {settings.CLUSTER_DOMAIN}"
    )
    (etc / "resolv.conf").write_text(f"nameserver {settings.BRIDGE_IP}\nsearch {search}\noptions ndots:5\n")
    (etc / "hostname").write_text(hostname + "\n")
    if sh("ip", "netns", "list", check=False).stdout.find(ns) < 0:
        sh("ip", "netns", "add", ns)
    if sh("ip", "link", "show", host_if, check=False).returncode != 0:
        sh(
            "ip",
            "link",
            "add",
            host_if,
            "type",
            "veth",
            "peer",
            "name",
            pod_if,
            "address",
            pod_mac(sandbox.ip),
        )
        sh("ip", "link", "set", pod_if, "netns", ns)
        sh("ip", "link", "set", host_if, "master", settings.BRIDGE)
        sh("ip", "link", "set", host_if, "up")
        sh("ip", "-n", ns, "link", "set", pod_if, "name", "eth0")
        sh("ip", "-n", ns, "addr", "add", f"{sandbox.ip}/{settings.POD_PREFIX}", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "route", "add", "default", "via", settings.BRIDGE_IP)


def destroy(sandbox: Sandbox) -> None:
    """Remove everything `create` and the volumes made; safe to call twice."""
    sh("ip", "netns", "del", sandbox.netns, check=False)
    sh("ip", "link", "del", sandbox.veth_host, check=False)
    shutil.rmtree(NETNS_ETC / sandbox.netns, ignore_errors=True)
    if sandbox.directory.exists():
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for mount in sorted(
            (m for m in mounts if m.startswith(str(sandbox.directory))), key=len, reverse=True
        ):
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
        created = sandbox.directory / "created-paths"
        if created.exists():
            for path in sorted(created.read_text().split("\n"), key=len, reverse=True):
                if path:
                    with contextlib.suppress(OSError):
                        os.rmdir(path)  # only if empty: a user's files are never removed
        shutil.rmtree(sandbox.directory, ignore_errors=True)


def stale_namespaces() -> list[str]:
    listing = sh("ip", "netns", "list", check=False).stdout.split("\n")
    return [line.split()[0] for line in listing if line.startswith(NETNS_PREFIX)]


def remove_stale() -> None:
    """Pods left by a node agent that died: kill what still runs in their network namespaces, remove them."""
    for ns in stale_namespaces():
        for pid in sh("ip", "netns", "pids", ns, check=False).stdout.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(NETNS_ETC / ns, ignore_errors=True)


class VolumeError(Exception):
    """A volume cannot be set up (kubelet's FailedMount)."""


def _write_files(folder: Path, data: dict[str, str], items: list[dict[str, Any]] | None, mode: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    chosen = {i["key"]: i.get("path", i["key"]) for i in items} if items else {k: k for k in data}
    for key, relative in chosen.items():
        if key not in data:
            raise VolumeError(f"key {key!r} not found")
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(data[key])
        target.chmod(mode)


def _source_data(ref: dict[str, Any], data: dict[str, str] | None, what: str, name: str) -> dict[str, str]:
    if data is None and not ref.get("optional"):
        raise VolumeError(f'{what} "{name}" not found')
    return data or {}


def _projected(target: Path, pod: dict[str, Any], projected: dict[str, Any], sources: Sources) -> None:
    """A projected volume (the service account's `kube-api-access-*` is one): every source's files in
    one folder."""
    mode = int(projected.get("defaultMode", 0o644))
    target.mkdir(parents=True, exist_ok=True)
    for source in projected.get("sources") or []:
        if "serviceAccountToken" in source:
            token = source["serviceAccountToken"]
            value = sources.tokens.get(Sources.token_key(token))
            if value is None:
                raise VolumeError("failed to fetch token: the service account token was not issued")
            _write_files(target, {token["path"]: value}, None, mode)
        elif "configMap" in source:
            ref = source["configMap"]
            data = _source_data(ref, sources.config_maps.get(ref["name"]), "configmap", ref["name"])
            _write_files(target, data, ref.get("items"), mode)
        elif "secret" in source:
            ref = source["secret"]
            data = _source_data(ref, sources.secrets.get(ref["name"]), "secret", ref["name"])
            _write_files(target, data, ref.get("items"), mode)
        elif "downwardAPI" in source:
            _write_downward_api(target, pod, source["downwardAPI"], mode)
        else:
            kind = next(iter(source), "unknown")
            raise VolumeError(f"projected source {kind!r} is not supported by the local node agent")


def _write_downward_api(target: Path, pod: dict[str, Any], spec: dict[str, Any], mode: int) -> None:
    try:
        files = downward_api_files(pod, spec.get("items") or [])
    except ConfigError as error:
        raise VolumeError(str(error)) from error
    _write_files(target, files, None, mode)


def _host_path(spec: dict[str, Any]) -> None:
    """The kubelet's checks for a hostPath's `type` (the directory kinds; others are not checked)."""
    path, kind = Path(spec["path"]), spec.get("type") or ""
    if kind == "DirectoryOrCreate" and not path.exists():
        path.mkdir(mode=0o755, parents=True)
    if kind in ("Directory", "DirectoryOrCreate") and not path.is_dir():
        raise VolumeError(f"hostPath type check failed: {path} is not a directory")


def materialize_volumes(sandbox: Sandbox, pod: dict[str, Any], sources: Sources) -> None:
    """Create each volume's content under the sandbox; containers bind-mount them."""
    for volume in pod.get("spec", {}).get("volumes") or []:
        name, target = volume["name"], sandbox.volume(volume["name"])
        if "emptyDir" in volume:
            target.mkdir(parents=True, exist_ok=True)
            if (volume["emptyDir"] or {}).get("medium") == "Memory" and not os.path.ismount(target):
                sh("mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs", str(target))
        elif "configMap" in volume or "secret" in volume:
            is_map = "configMap" in volume
            ref = volume["configMap" if is_map else "secret"]
            source_name = ref["name"] if is_map else ref["secretName"]
            found = (sources.config_maps if is_map else sources.secrets).get(source_name)
            data = _source_data(ref, found, "configmap" if is_map else "secret", source_name)
            _write_files(target, data, ref.get("items"), int(ref.get("defaultMode", 0o644)))
        elif "projected" in volume:
            _projected(target, pod, volume["projected"] or {}, sources)
        elif "downwardAPI" in volume:
            spec = volume["downwardAPI"] or {}
            _write_downward_api(target, pod, spec, int(spec.get("defaultMode", 0o644)))
        elif "hostPath" in volume:
            _host_path(volume["hostPath"])
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.is_symlink():
                target.symlink_to(volume["hostPath"]["path"])
        else:
            kind = next((k for k in volume if k != "name"), "unknown")
            raise VolumeError(f"volume {name!r}: type {kind!r} is not supported by the local node agent")
