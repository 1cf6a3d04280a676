"""DNS records and ClusterIP translations from Services and Endpoints."""

from __future__ import annotations

from typing import Any

from raykopf.local.agent.services import Translation, dns_records, iptables_rules, translations
from raykopf.local.network import pod_mac


def service(name: str, cluster_ip: str, ports: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"clusterIP": cluster_ip, "ports": ports, **spec},
    }


def endpoints(
    name: str, ready: list[str], not_ready: list[str], ports: list[dict[str, Any]]
) -> dict[str, Any]:
    subset = {
        "addresses": [{"ip": ip} for ip in ready],
        "notReadyAddresses": [{"ip": ip, "hostname": "h0"} for ip in not_ready],
        "ports": ports,
    }
    return {"metadata": {"name": name, "namespace": "ns"}, "subsets": [subset]}


SERVICES = [
    service("web", "198.19.0.10", [{"name": "http", "port": 80}]),
    service("head-svc", "None", [{"name": "gcs", "port": 6379}], publishNotReadyAddresses=True),
    service("strict", "None", [{"name": "gcs", "port": 6379}]),
]
ENDPOINTS = [
    endpoints("web", ["198.18.0.2", "198.18.0.3"], ["198.18.0.4"], [{"name": "http", "port": 8080}]),
    endpoints("head-svc", [], ["198.18.0.5"], [{"name": "gcs", "port": 6379}]),
    endpoints("strict", [], ["198.18.0.6"], [{"name": "gcs", "port": 6379}]),
]


def test_dns_records_follow_cluster_ip_headless_and_not_ready_rules() -> None:
    assert dns_records(SERVICES, ENDPOINTS) == [
        ("198.18.0.5", "h0.head-svc.ns.svc.cluster.local"),
        ("198.18.0.5", "head-svc.ns.svc.cluster.local"),
        ("198.19.0.10", "web.ns.svc.cluster.local"),
    ]


def test_translations_go_to_ready_endpoints_only() -> None:
    assert translations(SERVICES, ENDPOINTS) == [
        Translation("198.19.0.10", 80, "tcp", (("198.18.0.2", 8080), ("198.18.0.3", 8080)))
    ]


def test_iptables_rules_spread_connections_evenly() -> None:
    rules = iptables_rules(translations(SERVICES, ENDPOINTS)).splitlines()
    assert rules[0] == "*nat"
    assert rules[-1] == "COMMIT"
    dnat = [r for r in rules if "DNAT" in r and "--to-destination" in r]
    assert dnat == [
        "-A RAYKOPF-SERVICES -d 198.19.0.10/32 -p tcp -m tcp --dport 80 -m statistic --mode random "
        "--probability 0.50000 -j DNAT --to-destination 198.18.0.2:8080",
        "-A RAYKOPF-SERVICES -d 198.19.0.10/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 198.18.0.3:8080",
    ]
    assert any("MASQUERADE" in r for r in rules)


def test_a_pods_mac_is_derived_from_its_ip() -> None:
    assert pod_mac("198.18.0.5") == "0a:58:c6:12:00:05"
    assert pod_mac("198.18.1.254") == "0a:58:c6:12:01:fe"
