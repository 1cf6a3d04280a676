"""The RayService controller on the local cluster, with real Ray Serve and real traffic."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e import workloads
from e2e.conftest import ROOT, Kubectl, wait_for
from e2e.serve_traffic import Traffic, greet

SAMPLE = ROOT / "manifests" / "samples" / "rayservice.sample.yaml"
NAME = "rayservice-sample"


def status(kubectl: Kubectl, namespace: str) -> dict[str, Any]:
    result: dict[str, Any] = kubectl.json("get", "rayservice", NAME, "-n", namespace).get("status") or {}
    return result


def ready(kubectl: Kubectl, namespace: str) -> bool:
    conditions = status(kubectl, namespace).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def active(kubectl: Kubectl, namespace: str) -> str:
    return str((status(kubectl, namespace).get("activeServiceStatus") or {}).get("rayClusterName") or "")


def clusters(kubectl: Kubectl, namespace: str) -> list[str]:
    listing = kubectl.json("get", "rayclusters", "-n", namespace)["items"]
    return sorted(c["metadata"]["name"] for c in listing)


def pod_addresses(kubectl: Kubectl, namespace: str) -> dict[str, str]:
    pods = kubectl.json("get", "pods", "-n", namespace)["items"]
    return {p["status"].get("podIP", "?"): p["metadata"]["name"] for p in pods}


CLIENT = """
import sys, time, urllib.request
for attempt in range(30):
    try:
        print(urllib.request.urlopen(sys.argv[1] + "/hello?name=pod", timeout=5).read().decode())
        break
    except OSError:
        time.sleep(1)
"""


def from_a_pod(kubectl: Kubectl, namespace: str, url: str) -> Any:
    """GET through the serve Service's DNS name from a Pod of the cluster; the parsed body."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "serve-client"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {"name": "client", "image": "python:3.11", "command": ["python", "-c", CLIENT, url]}
            ],
        },
    }
    kubectl.apply(json.dumps(pod), namespace)
    wait_for(
        lambda: (
            kubectl.json("get", "pod", "serve-client", "-n", namespace)["status"].get("phase")
            in ("Succeeded", "Failed")
        ),
        90,
        "the client Pod to finish",
    )
    return json.loads(kubectl("logs", "serve-client", "-n", namespace).strip().splitlines()[-1])


def patch_serve_config(kubectl: Kubectl, namespace: str, change: Any) -> None:
    workloads.patch_serve_config(kubectl, namespace, NAME, change)


@pytest.mark.pod_network
def test_rayservice_serves_updates_in_place_and_upgrades_without_a_failed_request(
    kubectl: Kubectl, namespace: str, operator: Path
) -> None:
    documents = list(yaml.safe_load_all(SAMPLE.read_text()))
    documents[1]["spec"]["rayClusterDeletionDelaySeconds"] = 5
    kubectl.apply(yaml.safe_dump_all(documents), namespace)
    wait_for(lambda: ready(kubectl, namespace), 300, "the RayService to be Ready", interval=2)
    first = active(kubectl, namespace)
    assert first.startswith(f"{NAME}-")
    assert len(first) == len(NAME) + 6
    current = status(kubectl, namespace)
    assert current["serviceStatus"] == "Running"
    assert current["numServeEndpoints"] >= 1
    assert current["activeServiceStatus"]["applicationStatuses"]["hello"]["status"] == "RUNNING"
    serve_service = kubectl.json("get", "service", f"{NAME}-serve-svc", "-n", namespace)
    assert serve_service["spec"]["selector"] == {"ray.io/cluster": first, "ray.io/serve": "true"}
    assert (
        kubectl.json("get", "service", f"{NAME}-head-svc", "-n", namespace)["spec"]["selector"][
            "ray.io/cluster"
        ]
        == first
    )
    cluster_ip = serve_service["spec"]["clusterIP"]
    url = f"http://{cluster_ip}:8000"
    assert wait_for(lambda: greet(url)[0] == 200, 30, "the serve Service to answer")
    assert greet(url, "op") == (200, {"message": "hello op"})
    assert from_a_pod(kubectl, namespace, f"http://{NAME}-serve-svc.{namespace}.svc.cluster.local:8000") == {
        "message": "hello pod"
    }

    # Only the Serve config changes: the same cluster, updated in place.
    patch_serve_config(
        kubectl,
        namespace,
        lambda c: c["applications"][0]["deployments"][0]["user_config"].update(greeting="bonjour"),
    )
    wait_for(lambda: greet(url, "op") == (200, {"message": "bonjour op"}), 120, "the new greeting")
    assert clusters(kubectl, namespace) == [first]

    # The cluster config changes: a new cluster, traffic moved once Serve runs there, the old one deleted.
    traffic = Traffic(url)
    traffic.start()
    env = [{"name": "UPGRADE_MARK", "value": "2"}]
    patch = [
        {
            "op": "add",
            "path": "/spec/rayClusterConfig/headGroupSpec/template/spec/containers/0/env",
            "value": env,
        }
    ]
    kubectl("patch", "rayservice", NAME, "-n", namespace, "--type=json", "-p", json.dumps(patch))
    addresses = pod_addresses(kubectl, namespace)
    wait_for(
        lambda: active(kubectl, namespace) not in ("", first),
        300,
        "traffic to move to a new cluster",
        interval=1,
    )
    second = active(kubectl, namespace)
    addresses.update(pod_addresses(kubectl, namespace))
    wait_for(
        lambda: clusters(kubectl, namespace) == [second], 120, "the old cluster to be deleted", interval=1
    )
    time.sleep(3)
    traffic.stop.set()
    traffic.join(10)
    print(
        f"requests during the upgrade: {traffic.ok} ok, {len(traffic.failed)} failed, slowest {traffic.slowest:.2f} s; "
        f"routes (s, targets): {traffic.routes.timeline}"
    )
    assert traffic.ok > 50
    events = kubectl(
        "get",
        "events",
        "-n",
        namespace,
        "--sort-by=.lastTimestamp",
        "-o",
        "custom-columns=TIME:.lastTimestamp,REASON:.reason,MESSAGE:.message",
        check=False,
    )
    assert traffic.failed == [], (
        f"routes to {cluster_ip}:8000 since the start (s, targets): {traffic.routes.timeline}\n"
        f"pods: {addresses}\nevents:\n{events[-3000:]}"
    )
    assert (
        kubectl.json("get", "service", f"{NAME}-serve-svc", "-n", namespace)["spec"]["clusterIP"]
        == cluster_ip
    )
    assert greet(url, "op") == (200, {"message": "bonjour op"})

    # A broken import path: reported, and the running version keeps serving.
    patch_serve_config(
        kubectl, namespace, lambda c: c["applications"][0].update(import_path="no_such_module:app")
    )

    def failed() -> dict[str, Any] | None:
        apps = (status(kubectl, namespace).get("activeServiceStatus") or {}).get("applicationStatuses") or {}
        return apps.get("hello") if (apps.get("hello") or {}).get("status") == "DEPLOY_FAILED" else None

    app = wait_for(failed, 120, "the application to fail to deploy", interval=1)
    assert "no_such_module" in app["message"]
    assert greet(url, "op") == (200, {"message": "bonjour op"})
    listing = kubectl.json("get", "events.events.k8s.io", "-n", namespace)["items"]
    assert any(
        e["reason"] == "FailedToUpdateServeApplications" and "no_such_module" in e["note"] for e in listing
    )

    # Deleting the RayService removes its clusters and Services.
    kubectl("delete", "rayservice", NAME, "-n", namespace, "--wait=true", "--timeout=120s", timeout=150)
    wait_for(lambda: not clusters(kubectl, namespace), 60, "the clusters to go")

    def services_gone() -> bool:
        names = kubectl("get", "services", "-n", namespace, "-o", "name")
        return f"{NAME}-serve-svc" not in names and f"{NAME}-head-svc" not in names

    wait_for(services_gone, 60, "the Services to go")
