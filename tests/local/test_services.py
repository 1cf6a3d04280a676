"""DNS records and ClusterIP translations from Services and EndpointSlices, as CoreDNS and kube-proxy
make them."""

from __future__ import annotations

from typing import Any

from raykopf_local.agent.services import Translation, dns_records, iptables_rules, translations
from raykopf_local.network import pod_mac


def service(name: str, cluster_ip: str, ports: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {"clusterIP": cluster_ip, "ports": ports, **spec},
    }


def endpoint_slice(
    service_name: str, suffix: str, endpoints: list[dict[str, Any]], ports: list[dict[str, Any]]
) -> dict[str, Any]:
    """An EndpointSlice as the EndpointSlice controller writes it (discovery.k8s.io/v1)."""
    return {
        "metadata": {
            "name": f"{service_name}-{suffix}",
            "namespace": "ns",
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": ports,
    }


def endpoint(
    ip: str, *, ready: bool, serving: bool | None = None, terminating: bool = False, **extra: Any
) -> dict[str, Any]:
    serving = ready if serving is None else serving
    return {
        "addresses": [ip],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
        **extra,
    }


SERVICES = [
    service("web", "198.19.0.10", [{"name": "http", "port": 80}]),
    service("head-svc", "None", [{"name": "gcs", "port": 6379}], publishNotReadyAddresses=True),
    service("strict", "None", [{"name": "gcs", "port": 6379}]),
    service("draining", "198.19.0.11", [{"name": "http", "port": 80}]),
]
SLICES = [
    # A Service's endpoints may be spread over several slices.
    endpoint_slice("web", "a1", [endpoint("198.18.0.2", ready=True)], [{"name": "http", "port": 8080}]),
    endpoint_slice(
        "web",
        "b2",
        [endpoint("198.18.0.3", ready=True), endpoint("198.18.0.4", ready=False)],
        [{"name": "http", "port": 8080}],
    ),
    # With publishNotReadyAddresses the controller marks a not-ready Pod's endpoint ready.
    endpoint_slice(
        "head-svc", "c3", [endpoint("198.18.0.5", ready=True, hostname="h0")], [{"name": "gcs", "port": 6379}]
    ),
    endpoint_slice(
        "strict", "d4", [endpoint("198.18.0.6", ready=False, hostname="h1")], [{"name": "gcs", "port": 6379}]
    ),
    # Only terminating Pods left, one still serving.
    endpoint_slice(
        "draining",
        "e5",
        [
            endpoint("198.18.0.7", ready=False, serving=True, terminating=True),
            endpoint("198.18.0.8", ready=False, serving=False, terminating=True),
        ],
        [{"name": "http", "port": 8080}],
    ),
    # An IPv6 slice of the same Service is not this node's business (the pod network is IPv4).
    {
        **endpoint_slice("web", "v6", [endpoint("fd00::1", ready=True)], [{"name": "http", "port": 8080}]),
        "addressType": "IPv6",
    },
]


def test_dns_records_follow_cluster_ip_headless_and_ready_rules() -> None:
    assert dns_records(SERVICES, SLICES) == [
        ("198.18.0.5", "h0.head-svc.ns.svc.cluster.local"),
        ("198.18.0.5", "head-svc.ns.svc.cluster.local"),
        ("198.19.0.10", "web.ns.svc.cluster.local"),
        ("198.19.0.11", "draining.ns.svc.cluster.local"),
    ]


def test_translations_go_to_ready_endpoints_of_every_slice_else_to_serving_terminating_ones() -> None:
    assert translations(SERVICES, SLICES) == [
        Translation("198.19.0.10", 80, "tcp", (("198.18.0.2", 8080), ("198.18.0.3", 8080))),
        Translation("198.19.0.11", 80, "tcp", (("198.18.0.7", 8080),)),
    ]


def test_a_service_without_slices_or_matching_ports_gets_no_translation() -> None:
    other_port = endpoint_slice(
        "web", "z9", [endpoint("198.18.0.9", ready=True)], [{"name": "metrics", "port": 9}]
    )
    assert translations(SERVICES[:1], [other_port]) == []
    assert translations(SERVICES[:1], []) == []


def test_iptables_rules_spread_connections_evenly() -> None:
    rules = iptables_rules(translations(SERVICES[:1], SLICES)).splitlines()
    assert rules[0] == "*nat"
    assert rules[-1] == "COMMIT"
    # An untranslated ClusterIP (a Service just made) is refused, never routed off the machine.
    assert rules[-3:] == [
        ":RAYKOPF-SERVICES-REJECT - [0:0]",
        "-A RAYKOPF-SERVICES-REJECT -d 198.19.0.0/16 -j REJECT --reject-with icmp-port-unreachable",
        "COMMIT",
    ]
    assert rules[-4] == "*filter"
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
