"""The host side of the pod network: a bridge carrying the pods' subnet, forwarding, and NAT for
traffic that leaves through a ClusterIP translation."""

from __future__ import annotations

import subprocess
from pathlib import Path

from raykopf_local import settings


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"`{' '.join(argv)}` failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def bridge_exists() -> bool:
    return sh("ip", "link", "show", settings.BRIDGE, check=False).returncode == 0


def ensure_bridge() -> None:
    if not bridge_exists():
        sh("ip", "link", "add", settings.BRIDGE, "type", "bridge")
        sh("ip", "addr", "add", f"{settings.BRIDGE_IP}/{settings.POD_PREFIX}", "dev", settings.BRIDGE)
    sh("ip", "link", "set", settings.BRIDGE, "address", settings.BRIDGE_MAC)
    sh("ip", "link", "set", settings.BRIDGE, "up")
    Path("/proc/sys/net/ipv4/ip_forward").write_text("1")
    # Pods reach ClusterIPs through the host; replies must come back through it to be un-NATed.
    Path(f"/proc/sys/net/ipv4/conf/{settings.BRIDGE}/route_localnet").write_text("1")


def pod_mac(ip: str) -> str:
    """A Pod's MAC derived from its IP (locally administered 0a:58 + the four IPv4 bytes): a reused
    IP keeps its MAC, so no neighbour on the bridge can hold a stale entry for it."""
    return "0a:58:" + ":".join(f"{int(part):02x}" for part in ip.split("."))


def remove_bridge() -> None:
    if bridge_exists():
        sh("ip", "link", "del", settings.BRIDGE)
