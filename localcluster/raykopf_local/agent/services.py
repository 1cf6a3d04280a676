"""What Services and EndpointSlices mean on this node (pure): DNS records for dnsmasq and ClusterIP
translations for iptables, rebuilt from the whole current set whenever one changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from raykopf_local import settings


@dataclass(frozen=True)
class Translation:
    """Connections to `cluster_ip:port` go to one of `targets` (ip, port), spread evenly."""

    cluster_ip: str
    port: int
    protocol: str
    targets: tuple[tuple[str, int], ...]


SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["metadata"]["namespace"], obj["metadata"]["name"]


def _slices_by_service(slices: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The IPv4 EndpointSlices of each Service (a Service may have several slices)."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for endpoint_slice in slices:
        service = (endpoint_slice["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL)
        if service and endpoint_slice.get("addressType", "IPv4") == "IPv4":
            grouped.setdefault((endpoint_slice["metadata"]["namespace"], service), []).append(endpoint_slice)
    return grouped


def _ready(endpoint: dict[str, Any]) -> bool:
    # As kube-proxy and CoreDNS: an unset condition counts as true.
    return (endpoint.get("conditions") or {}).get("ready") is not False


def _serving_terminating(endpoint: dict[str, Any]) -> bool:
    conditions = endpoint.get("conditions") or {}
    return conditions.get("serving") is not False and conditions.get("terminating") is True


def dns_records(services: list[dict[str, Any]], slices: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(ip, name) pairs, as CoreDNS serves them from EndpointSlices: `<svc>.<ns>.svc.<domain>` to the
    ClusterIP, or, for headless Services, to every ready endpoint address (the EndpointSlice controller
    marks every endpoint ready for a Service with publishNotReadyAddresses), plus
    `<hostname>.<svc>.<ns>.svc.<domain>` for endpoints that have a hostname."""
    by_service = _slices_by_service(slices)
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
        for endpoint_slice in by_service.get((namespace, name), []):
            for endpoint in endpoint_slice.get("endpoints") or []:
                if not _ready(endpoint):
                    continue
                for ip in endpoint.get("addresses") or []:
                    records.append((ip, fqdn))
                    if endpoint.get("hostname"):
                        records.append((ip, f"{endpoint['hostname']}.{fqdn}"))
    return sorted(set(records))


def translations(services: list[dict[str, Any]], slices: list[dict[str, Any]]) -> list[Translation]:
    """One translation per ClusterIP Service port, as kube-proxy programs it from EndpointSlices: to the
    ready endpoints' matching ports or, when none is ready, to the serving ones that are terminating."""
    by_service = _slices_by_service(slices)
    result = []
    for service in services:
        spec = service.get("spec", {})
        cluster_ip = spec.get("clusterIP")
        if not cluster_ip or cluster_ip == "None":
            continue
        service_slices = by_service.get(_key(service), [])
        for port in spec.get("ports") or []:
            ready: list[tuple[str, int]] = []
            terminating: list[tuple[str, int]] = []
            for endpoint_slice in service_slices:
                match = next(
                    (
                        p
                        for p in endpoint_slice.get("ports") or []
                        if p.get("name", "") == port.get("name", "")
                    ),
                    None,
                )
                if match is None or match.get("port") is None:
                    continue
                for endpoint in endpoint_slice.get("endpoints") or []:
                    chosen = (
                        ready if _ready(endpoint) else terminating if _serving_terminating(endpoint) else None
                    )
                    if chosen is not None:
                        chosen += [(ip, int(match["port"])) for ip in endpoint.get("addresses") or []]
            targets = ready or terminating
            if targets:
                result.append(
                    Translation(
                        cluster_ip,
                        int(port["port"]),
                        port.get("protocol", "TCP").lower(),
                        tuple(sorted(set(targets))),
                    )
                )
    return result


def hosts_file(records: list[tuple[str, str]]) -> str:
    return "".join(f"{ip}\t{name}\n" for ip, name in records)


CHAIN = "RAYKOPF-SERVICES"
POSTROUTING_CHAIN = "RAYKOPF-POSTROUTING"
REJECT_CHAIN = "RAYKOPF-SERVICES-REJECT"


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
    # A ClusterIP with no translation yet (a Service just made) is refused here, as kube-proxy refuses
    # a Service without endpoints; it would otherwise follow the default route off the machine.
    lines += ["*filter", f":{REJECT_CHAIN} - [0:0]"]
    lines.append(
        f"-A {REJECT_CHAIN} -d {settings.SERVICE_CIDR} -j REJECT --reject-with icmp-port-unreachable"
    )
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"
