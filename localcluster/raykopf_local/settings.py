"""Fixed addresses and ports of the local cluster.

Pod and Service addresses come from RFC 2544's benchmarking range (198.18.0.0/15), reserved for tests,
so that no traffic ever leaves this machine.
"""

from __future__ import annotations

BRIDGE = "raykopf0"
BRIDGE_IP = "198.18.0.1"
# Set explicitly: a Linux bridge otherwise takes the lowest MAC of its ports, so adding or removing a
# Pod could change the gateway's MAC under every Pod's ARP cache (replies lost for up to ~45 s).
BRIDGE_MAC = "02:72:6b:00:00:01"
POD_CIDR = "198.18.0.0/16"
POD_PREFIX = 16
SERVICE_CIDR = "198.19.0.0/16"
KUBERNETES_SERVICE_IP = "198.19.0.1"
CLUSTER_DOMAIN = "cluster.local"

APISERVER_PORT = 6443
ETCD_CLIENT_PORT = 23790
ETCD_PEER_PORT = 23800
ETCD_METRICS_PORT = 23810
CONTROLLER_MANAGER_PORT = 10257
SCHEDULER_PORT = 10259
KUBELET_PORT = 10250
DNS_PORT = 53

SERVICE_ACCOUNT_ISSUER = f"https://kubernetes.default.svc.{CLUSTER_DOMAIN}"
NODE_NAME = "raykopf-node"
