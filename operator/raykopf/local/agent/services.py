"""What Services and Endpoints mean on this node (pure): DNS records for dnsmasq and ClusterIP
translations for iptables, rebuilt from the whole current set whenever one changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from raykopf.local import settings


@dataclass(frozen=True)
class Translation:
    """Connections to `cluster_ip:port` go to one of `targets` (ip, port), spread evenly."""

    cluster_ip: str
    port: int
    protocol: str
    targets: tuple[tuple[str, int], ...]


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["metadata"]["namespace"], obj["metadata"]["name"]


def dns_records(services: list[dict[str, Any]], endpoints: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(ip, name) pairs: `<svc>.<ns>.svc.<domain>` to the ClusterIP, or, for headless Services, to
    every endpoint address (not-ready ones too with publishNotReadyAddresses), plus
    `<hostname>.<svc>.<ns>.svc.<domain>` for endpoints that have a hostname."""
    by_key = {_key(e): e for e in endpoints}
    records: list[tuple[str, str]] = []
    for service in services:
        namespace, name = _key(service)
        spec = service.get("spec", {})
        fqdn = f"{name}.{namespace}.svc.{settings.CLUSTER_DOMAIN}"
        cluster_ip = spec.get("clusterIP")
        if spec.get("type") == "ExternalName":
            continue
        if cluster_ip and cluster_ip != "None":
            records.append((cluster_ip, fqdn))
            continue
        include_not_ready = bool(spec.get("publishNotReadyAddresses"))
        for subset in (by_key.get((namespace, name)) or {}).get("subsets") or []:
            addresses = list(subset.get("addresses") or [])
            if include_not_ready:
                addresses += subset.get("notReadyAddresses") or []
            for address in addresses:
                records.append((address["ip"], fqdn))
                if address.get("hostname"):
                    records.append((address["ip"], f"{address['hostname']}.{fqdn}"))
    return sorted(set(records))


def translations(services: list[dict[str, Any]], endpoints: list[dict[str, Any]]) -> list[Translation]:
    """One translation per ClusterIP Service port, to the ready endpoints' matching ports."""
    by_key = {_key(e): e for e in endpoints}
    result = []
    for service in services:
        spec = service.get("spec", {})
        cluster_ip = spec.get("clusterIP")
        if not cluster_ip or cluster_ip == "None":
            continue
        subsets = (by_key.get(_key(service)) or {}).get("subsets") or []
        for port in spec.get("ports") or []:
            targets = []
            for subset in subsets:
                match = next(
                    (p for p in subset.get("ports") or [] if p.get("name", "") == port.get("name", "")), None
                )
                if match is None:
                    continue
                targets += [(a["ip"], int(match["port"])) for a in subset.get("addresses") or []]
            if targets:
                result.append(
                    Translation(
                        cluster_ip,
                        int(port["port"]),
                        port.get("protocol", "TCP").lower(),
                        tuple(sorted(targets)),
                    )
                )
    return result


def hosts_file(records: list[tuple[str, str]]) -> str:
    return "".join(f"{ip}\t{name}\n" for ip, name in records)


CHAIN = "RAYKOPF-SERVICES"
POSTROUTING_CHAIN = "RAYKOPF-POSTROUTING"


def iptables_rules(rules: list[Translation]) -> str:
    """An `iptables-restore --noflush` input that replaces only raykopf's own NAT chains."""
    lines = ["*nat", f":{CHAIN} - [0:0]", f":{POSTROUTING_CHAIN} - [0:0]"]
    for rule in rules:
        count = len(rule.targets)
        for index, (ip, port) in enumerate(rule.targets):
            match = f"-A {CHAIN} -d {rule.cluster_ip}/32 -p {rule.protocol} -m {rule.protocol} --dport {rule.port}"
            remaining = count - index
            if remaining > 1:
                match += f" -m statistic --mode random --probability {1 / remaining:.5f}"
            lines.append(f"{match} -j DNAT --to-destination {ip}:{port}")
    # Replies to translated connections must come back through the host to be un-translated.
    lines.append(f"-A {POSTROUTING_CHAIN} -s {settings.POD_CIDR} -m conntrack --ctstate DNAT -j MASQUERADE")
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"
