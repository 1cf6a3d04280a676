"""What a current Kubernetes (1.29+) does that the local cluster must do too: native sidecar containers,
scheduling gates, in-place Pod resize, and Services routed from EndpointSlices alone."""

from __future__ import annotations

import copy
import json
import ssl
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.conftest import ROOT, Kubectl, wait_for
from raykopf.validation import validate, validate_update
from raykopf_local.cluster import LocalCluster
from raykopf_local.controlplane import LOCAL_SERVER

IMAGE = "rayproject/ray:2.60.0"  # recorded in the pod status; the runtime environment provides it


def pod(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = kubectl.json("get", "pod", name, "-n", namespace)
    return result


def condition(body: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in body["status"].get("conditions") or [] if c["type"] == kind), {})


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.mark.pod_network
def test_a_native_sidecar_runs_beside_a_ray_head(kubectl: Kubectl, namespace: str, operator: Path) -> None:
    cluster = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "sidecar"},
        "spec": {
            "rayVersion": "2.60.0",
            "headGroupSpec": {
                "rayStartParams": {"num-cpus": "1", "object-store-memory": "100000000"},
                "template": {
                    "spec": {
                        "initContainers": [
                            {
                                "name": "log-agent",
                                "image": IMAGE,
                                "restartPolicy": "Always",
                                "command": ["python", "-m", "http.server", "9100"],
                                "readinessProbe": {"tcpSocket": {"port": 9100}, "periodSeconds": 1},
                            }
                        ],
                        "containers": [
                            {
                                "name": "ray-head",
                                "image": IMAGE,
                                "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
                            }
                        ],
                    }
                },
            },
            "workerGroupSpecs": [],
        },
    }
    kubectl.apply(yaml.safe_dump(cluster), namespace)
    wait_for(
        lambda: (
            kubectl.json("get", "raycluster", "sidecar", "-n", namespace).get("status", {}).get("state")
            == "ready"
        ),
        180,
        "the RayCluster with a sidecar on its head to be ready",
        interval=2,
    )
    (head,) = kubectl.json("get", "pods", "-n", namespace, "-l", "ray.io/node-type=head")["items"]
    (sidecar,) = head["status"]["initContainerStatuses"]
    (ray,) = head["status"]["containerStatuses"]
    assert sidecar["name"] == "log-agent"
    assert "running" in sidecar["state"]
    assert sidecar["started"] is True
    assert sidecar["ready"] is True
    assert condition(head, "Initialized")["status"] == "True"
    assert head["status"]["phase"] == "Running"
    # Started in order: the sidecar first, the Ray head once the sidecar had started.
    assert ray["state"]["running"]["startedAt"] >= sidecar["state"]["running"]["startedAt"]
    ip = head["status"]["podIP"]
    assert http_ok(f"http://{ip}:9100/")
    assert wait_for(
        lambda: http_ok(f"http://{ip}:8265/api/version"), 60, "the Ray dashboard beside the sidecar"
    )


def test_a_job_with_a_sidecar_completes_and_the_sidecar_stops_last(kubectl: Kubectl, namespace: str) -> None:
    with tempfile.TemporaryDirectory(dir="/var/tmp") as shared:
        trail = Path(shared) / "trail"
        job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "with-sidecar"},
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "terminationGracePeriodSeconds": 10,
                        "volumes": [{"name": "shared", "hostPath": {"path": shared}}],
                        "initContainers": [
                            {
                                "name": "proxy",
                                "image": IMAGE,
                                "restartPolicy": "Always",
                                "command": [
                                    "bash",
                                    "-c",
                                    "trap 'echo sidecar-stopped >> /shared/trail; exit 0' TERM; "
                                    "python -m http.server 9200 & wait",
                                ],
                                "startupProbe": {"tcpSocket": {"port": 9200}, "periodSeconds": 1},
                                "volumeMounts": [{"name": "shared", "mountPath": "/shared"}],
                            }
                        ],
                        "containers": [
                            {
                                "name": "main",
                                "image": IMAGE,
                                "command": [
                                    "bash",
                                    "-c",
                                    "python -c \"import urllib.request; urllib.request.urlopen('http://localhost:9200/')\" "
                                    "&& echo main-saw-sidecar >> /shared/trail && sleep 1 && echo main-done >> /shared/trail",
                                ],
                                "volumeMounts": [{"name": "shared", "mountPath": "/shared"}],
                            }
                        ],
                    }
                },
            },
        }
        kubectl.apply(yaml.safe_dump(job), namespace)
        kubectl("wait", "--for=condition=complete", "job/with-sidecar", "-n", namespace, "--timeout=90s")
        wait_for(lambda: trail.exists() and "sidecar-stopped" in trail.read_text(), 30, "the sidecar to stop")
        assert trail.read_text().split() == ["main-saw-sidecar", "main-done", "sidecar-stopped"]
        (finished,) = kubectl.json("get", "pods", "-n", namespace, "-l", "job-name=with-sidecar")["items"]
        assert finished["status"]["phase"] == "Succeeded"


def test_a_gated_pod_stays_pending_until_its_gate_is_removed(kubectl: Kubectl, namespace: str) -> None:
    gated = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "gated"},
        "spec": {
            "schedulingGates": [{"name": "example.com/quota"}],
            "containers": [{"name": "c", "image": IMAGE, "command": ["sleep", "300"]}],
        },
    }
    kubectl.apply(yaml.safe_dump(gated), namespace)
    scheduled = wait_for(
        lambda: condition(pod(kubectl, namespace, "gated"), "PodScheduled") or None,
        30,
        "the scheduler's verdict",
    )
    assert scheduled["status"] == "False"
    assert scheduled["reason"] == "SchedulingGated"
    body = pod(kubectl, namespace, "gated")
    assert body["status"]["phase"] == "Pending"
    assert not body["spec"].get("nodeName")
    patch = json.dumps([{"op": "remove", "path": "/spec/schedulingGates"}])
    kubectl("patch", "pod", "gated", "-n", namespace, "--type=json", "-p", patch)
    kubectl("wait", "--for=condition=Ready", "pod/gated", "-n", namespace, "--timeout=60s")
    assert pod(kubectl, namespace, "gated")["spec"]["nodeName"] == "raykopf-node"


def test_a_pod_is_resized_in_place_as_its_resize_policy_says(kubectl: Kubectl, namespace: str) -> None:
    resizable = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "resizable"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": IMAGE,
                    "command": ["sleep", "600"],
                    "resources": {
                        "requests": {"cpu": "250m", "memory": "128Mi"},
                        "limits": {"cpu": "1", "memory": "512Mi"},
                    },
                    "resizePolicy": [
                        {"resourceName": "cpu", "restartPolicy": "NotRequired"},
                        {"resourceName": "memory", "restartPolicy": "RestartContainer"},
                    ],
                }
            ]
        },
    }
    kubectl.apply(yaml.safe_dump(resizable), namespace)
    kubectl("wait", "--for=condition=Ready", "pod/resizable", "-n", namespace, "--timeout=60s")
    started = pod(kubectl, namespace, "resizable")["status"]["containerStatuses"][0]["state"]["running"][
        "startedAt"
    ]

    def resize(resources: dict[str, Any]) -> None:
        patch = json.dumps({"spec": {"containers": [{"name": "c", "resources": resources}]}})
        kubectl("patch", "pod", "resizable", "-n", namespace, "--subresource", "resize", "-p", patch)

    def status_resources() -> dict[str, Any]:
        container: dict[str, Any] = pod(kubectl, namespace, "resizable")["status"]["containerStatuses"][0]
        return container

    resize({"requests": {"cpu": "500m"}})
    cpu = wait_for(
        lambda: (c := status_resources())["resources"]["requests"]["cpu"] == "500m" and c,
        30,
        "the CPU resize",
    )
    assert cpu["allocatedResources"]["cpu"] == "500m"
    assert cpu["restartCount"] == 0
    assert cpu["state"]["running"]["startedAt"] == started  # NotRequired: the container kept running

    resize({"limits": {"memory": "768Mi"}})
    memory = wait_for(lambda: (c := status_resources())["restartCount"] == 1 and c, 60, "the memory resize")
    assert memory["resources"]["limits"]["memory"] == "768Mi"
    # Its restart count goes up as the old run ends; the new run's state follows.
    wait_for(lambda: "running" in status_resources()["state"], 30, "the restarted container to run")

    # A size the node cannot hold: the apiserver itself refuses it (Kubernetes 1.35+), nothing changes.
    refused = kubectl.run(
        "patch",
        "pod",
        "resizable",
        "-n",
        namespace,
        "--subresource",
        "resize",
        "-p",
        json.dumps(
            {
                "spec": {
                    "containers": [
                        {"name": "c", "resources": {"requests": {"cpu": "100"}, "limits": {"cpu": "100"}}}
                    ]
                }
            }
        ),
    )
    assert refused.returncode != 0
    assert "node didn't have enough allocatable resources: cpu, requested: 100000, allocatable: 16000" in (
        refused.stderr
    )
    assert status_resources()["resources"]["requests"]["cpu"] == "500m"


@pytest.mark.pod_network
def test_a_service_routes_and_resolves_from_endpoint_slices_alone(kubectl: Kubectl, namespace: str) -> None:
    """A Service without a selector and a hand-made EndpointSlice (no Endpoints object exists): only a
    proxy and a DNS server that read EndpointSlices, as kube-proxy and CoreDNS do, can route it."""
    web = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": IMAGE,
                    "command": ["python", "-m", "http.server", "8080"],
                    "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                }
            ]
        },
    }
    kubectl.apply(yaml.safe_dump(web), namespace)
    kubectl("wait", "--for=condition=Ready", "pod/web", "-n", namespace, "--timeout=60s")
    ip = pod(kubectl, namespace, "web")["status"]["podIP"]
    services = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {"ports": [{"name": "http", "port": 80 if name == "manual" else 8080}], **extra},
        }
        for name, extra in (("manual", {}), ("manual-headless", {"clusterIP": "None"}))
    ]
    slices = [
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{service}-1",
                "labels": {
                    "kubernetes.io/service-name": service,
                    "endpointslice.kubernetes.io/managed-by": "raykopf-e2e",
                },
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}, "hostname": "web-0"}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        }
        for service in ("manual", "manual-headless")
    ]
    kubectl.apply(yaml.safe_dump_all([*services, *slices]), namespace)
    assert kubectl("get", "endpoints", "-n", namespace, "-o", "name", check=False).strip() == ""
    cluster_ip = kubectl("get", "service", "manual", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}")
    # From the host through the node's NAT rules (synced at most once a second, as kube-proxy).
    assert wait_for(lambda: http_ok(f"http://{cluster_ip}/"), 30, "the ClusterIP to route to the slice")
    # From a Pod through cluster DNS: the ClusterIP name, the headless name and the endpoint's hostname.
    urls = [
        f"http://manual.{namespace}.svc.cluster.local/",
        f"http://manual-headless.{namespace}.svc.cluster.local:8080/",
        f"http://web-0.manual-headless.{namespace}.svc.cluster.local:8080/",
    ]
    client = (
        "import time, urllib.request\n"
        f"for url in {urls!r}:\n"
        "    for attempt in range(30):\n"
        "        try:\n"
        "            print(urllib.request.urlopen(url, timeout=3).status); break\n"
        "        except OSError:\n"
        "            time.sleep(1)\n"
    )
    kubectl.apply(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "client"},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "client", "image": IMAGE, "command": ["python", "-c", client]}],
                },
            }
        ),
        namespace,
    )
    wait_for(
        lambda: pod(kubectl, namespace, "client")["status"].get("phase") in ("Succeeded", "Failed"),
        90,
        "the client pod to finish",
    )
    assert kubectl("logs", "client", "-n", namespace).split() == ["200"] * 3


def test_the_apiserver_enforces_kuberays_cel_rules_with_their_messages(
    kubectl: Kubectl, namespace: str
) -> None:
    """The CRDs carry KubeRay v1.7's CEL rules; plain client-side `kubectl apply` installs them, the
    apiserver refuses a change they forbid with KubeRay's message, and `raykopf validate`'s function
    says the same words for the same change."""
    out = kubectl("apply", "-f", str(ROOT / "crds"))
    assert "rayclusters.ray.io" in out
    kubectl("wait", "--for=condition=Established", "crd/rayclusters.ray.io", "crd/rayjobs.ray.io")
    cluster = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "managed"},
        "spec": {
            # Managed elsewhere (MultiKueue), so no operator acts on it: only the API's rules are under test.
            "managedBy": "kueue.x-k8s.io/multikueue",
            "gcsFaultToleranceOptions": {"backend": "redis", "redisAddress": "redis:6379"},
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {"spec": {"containers": [{"name": "ray-head", "image": IMAGE}]}},
            },
        },
    }
    kubectl.apply(yaml.safe_dump(cluster), namespace)

    def refused(patch: dict[str, Any]) -> str:
        result = kubectl.run(
            "patch", "raycluster", "managed", "-n", namespace, "--type=merge", "-p", json.dumps(patch)
        )
        assert result.returncode != 0, f"the apiserver accepted {patch}"
        return result.stderr

    moved = {"spec": {"managedBy": "ray.io/kuberay-operator"}}
    expected = 'spec.managedBy: Invalid value: "ray.io/kuberay-operator": the managedBy field is immutable'
    assert expected in refused(moved)
    backend = {"spec": {"gcsFaultToleranceOptions": {"backend": "rocksdb"}}}
    assert "gcsFaultToleranceOptions.backend is immutable" in refused(backend)
    old = kubectl.json("get", "raycluster", "managed", "-n", namespace)
    new = copy.deepcopy(old)
    new["spec"]["managedBy"] = "ray.io/kuberay-operator"
    assert "spec.managedBy: the managedBy field is immutable" in [str(p) for p in validate_update(old, new)]

    other = copy.deepcopy(cluster)
    other["metadata"]["name"] = "unmanaged"
    other["spec"]["managedBy"] = "someone-else"
    created = kubectl.run("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(other))
    message = (
        "the managedBy field value must be either 'ray.io/kuberay-operator' or 'kueue.x-k8s.io/multikueue'"
    )
    assert created.returncode != 0
    assert message in created.stderr
    assert f"spec.managedBy: {message}" in [str(p) for p in validate(other)]

    job = {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": "both"},
        "spec": {
            "entrypoint": "python -c 'print(1)'",
            "suspend": True,
            "deletionStrategy": {
                "onSuccess": {"policy": "DeleteCluster"},
                "onFailure": {"policy": "DeleteCluster"},
                "deletionRules": [{"policy": "DeleteCluster", "condition": {"jobStatus": "SUCCEEDED"}}],
            },
        },
    }
    created = kubectl.run("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(job))
    message = (
        "legacy policies (onSuccess/onFailure) and deletionRules cannot be used together within the same "
        "deletionStrategy"
    )
    assert created.returncode != 0
    assert message in created.stderr
    assert f"spec.deletionStrategy: {message}" in [str(p) for p in validate(job)]


def test_kubectl_finds_the_ray_kinds_through_aggregated_discovery_and_openapi_v3(
    kubectl: Kubectl, local_cluster: LocalCluster
) -> None:
    kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
    kubectl("wait", "--for=condition=Established", "crd/rayclusters.ray.io")
    pki = local_cluster.layout.pki
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))

    def get(path: str, accept: str) -> dict[str, Any]:
        request = urllib.request.Request(f"{LOCAL_SERVER}{path}", headers={"Accept": accept})
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            body: dict[str, Any] = json.load(response)
            return body

    # Aggregated discovery (apidiscovery.k8s.io/v2): every group and its resources in one answer.
    discovery = get("/apis", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
    assert discovery["kind"] == "APIGroupDiscoveryList"
    ray = next(g for g in discovery["items"] if g["metadata"]["name"] == "ray.io")
    v1 = next(v for v in ray["versions"] if v["version"] == "v1")
    assert {r["resource"] for r in v1["resources"]} >= {"rayclusters", "rayjobs", "rayservices"}
    # OpenAPI v3, which kubectl explain reads: the CRD's schema with its descriptions.
    paths = get("/openapi/v3", "application/json")["paths"]
    assert "apis/ray.io/v1" in paths
    explained = kubectl("explain", "rayclusters.spec.managedBy")
    assert "Controller that manages this object" in explained
    assert "rayclusters" in kubectl("api-resources", "--api-group=ray.io", "-o", "name")
