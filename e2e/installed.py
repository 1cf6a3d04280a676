"""The operator installed by the chart into the local cluster: its Pods and its Lease (the `helm` and
`release_namespace` fixtures are in conftest.py)."""

from __future__ import annotations

import socket
from typing import Any

from e2e.conftest import ROOT, Kubectl, wait_for

CHART = ROOT / "helm" / "raykopf"
LEASE = "ray-operator-leader"
SELECTOR = "app.kubernetes.io/name=raykopf-operator"
WEBHOOK_SERVICE = "raykopf-operator-webhook"


def operator_pods(kubectl: Kubectl, namespace: str) -> list[dict[str, Any]]:
    pods: list[dict[str, Any]] = kubectl.json("get", "pods", "-n", namespace, "-l", SELECTOR)["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def ready(pod: dict[str, Any]) -> bool:
    conditions = pod["status"].get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def wait_operators_ready(kubectl: Kubectl, namespace: str, count: int) -> list[dict[str, Any]]:
    def all_ready() -> list[dict[str, Any]] | None:
        pods = operator_pods(kubectl, namespace)
        return pods if len(pods) == count and all(ready(p) for p in pods) else None

    try:
        result: list[dict[str, Any]] = wait_for(all_ready, 120, f"{count} ready operator Pod(s)", interval=1)
    except AssertionError as error:
        pods = kubectl("describe", "pods", "-n", namespace, "-l", SELECTOR, check=False)
        logs = kubectl("logs", "-n", namespace, "-l", SELECTOR, "--tail=30", check=False)
        raise AssertionError(f"{error}\n{pods[-3000:]}\n{logs[-3000:]}") from None
    wait_webhook_routed(kubectl, namespace)
    return result


def wait_webhook_routed(kubectl: Kubectl, namespace: str) -> None:
    """Until the webhook Service of the release (if it has one) takes connections from this host,
    where the apiserver runs: its proxy rules come a moment after its Pods are ready, and until then
    every ray.io request is refused (`failed calling webhook`)."""
    address = kubectl(
        "get", "service", WEBHOOK_SERVICE, "-n", namespace, "-o", "jsonpath={.spec.clusterIP}", check=False
    ).strip()
    if not address:
        return

    def routed() -> bool:
        try:
            socket.create_connection((address, 443), timeout=2).close()
        except OSError:
            return False
        return True

    wait_for(routed, 30, f"the webhook Service {namespace}/{WEBHOOK_SERVICE} to take connections")


def lease_holder(kubectl: Kubectl, namespace: str) -> str:
    lease = kubectl.json("get", "lease", LEASE, "-n", namespace)
    return str(lease["spec"].get("holderIdentity") or "").split("_")[0]


def log_of(kubectl: Kubectl, namespace: str, pod: str) -> str:
    return kubectl("logs", "-n", namespace, pod, check=False)
