"""The conformance cases: every RayCluster, RayJob and RayService sample (raykopf's and KubeRay
v1.7.0's public ones) and a table of synthetic cases, one feature each. Ray Pods go to the simulated
node (a toleration and a node selector added to every Ray Pod template, the same on both sides): what
is compared is what each operator asks for, not what Ray does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from tests.compat import upstream

ROOT = Path(__file__).resolve().parents[2]
OWN_SAMPLES = ROOT / "manifests" / "samples"
SIMULATED = {"raykopf.io/simulated": "true"}
TOLERATION = {"key": "raykopf.io/simulated", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
# Namespaced kinds a sample may bring along for its cluster; anything else (workloads that would
# need real images, other projects' CRDs) is left out and the case says so.
SUPPORTING = {
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "Service",
    "PersistentVolumeClaim",
}
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding"}
# Samples that cannot run here, with the reason.
NOT_HERE = {
    "ray-cluster.kai-gpu-sharing.yaml": "needs the KAI scheduler's Queue CRD",
    "ray-cluster.kai-scheduler.yaml": "needs the KAI scheduler's Queue CRD",
    "ray-cluster.volcano-scheduler-queue.yaml": "needs Volcano's Queue CRD",
    "ray-job.volcano-scheduler-queue.yaml": "needs Volcano's Queue CRD",
    "ray-cronjob.sample.yaml": "RayCronJob is not supported by raykopf yet",
    "ray-cronjob-timezone.sample.yaml": "RayCronJob is not supported by raykopf yet",
}
ROOT_KINDS = ("RayCluster", "RayJob", "RayService")
# Where each kind keeps the RayCluster spec it stands for.
CLUSTER_SPEC = {"RayJob": "rayClusterSpec", "RayService": "rayClusterConfig"}


@dataclass
class Case:
    name: str  # also the RayCluster's name: unique, DNS-1035
    source: str
    root: dict[str, Any]
    supporting: list[dict[str, Any]] = field(default_factory=list)
    cluster_scoped: list[dict[str, Any]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return str(self.root["kind"])


def on_simulated_node(template: dict[str, Any] | None) -> dict[str, Any]:
    template = copy.deepcopy(template) if template else {}
    spec = template.setdefault("spec", {})
    spec["nodeSelector"] = {**(spec.get("nodeSelector") or {}), **SIMULATED}
    spec["tolerations"] = [*(spec.get("tolerations") or []), TOLERATION]
    return template


def simulated_raycluster_spec(spec: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    head = spec.get("headGroupSpec") or {}
    head["template"] = on_simulated_node(head.get("template"))
    for group in spec.get("workerGroupSpecs") or []:
        group["template"] = on_simulated_node(group.get("template"))
    return spec


def _case_name(source: str) -> str:
    stem = source.removesuffix(".yaml").replace(".", "-").replace("_", "-").lower()
    for kind in ("ray-cluster-", "raycluster-"):
        stem = stem.removeprefix(kind)
    return (
        stem.replace("ray-job-", "job-")
        .replace("rayjob-", "job-")
        .replace("ray-service-", "svc-")
        .replace("rayservice-", "svc-")[:40]
        .strip("-")
    )


def on_simulated_nodes(root: dict[str, Any]) -> dict[str, Any]:
    root = copy.deepcopy(root)
    if root["kind"] == "RayCluster":
        root["spec"] = simulated_raycluster_spec(root["spec"])
    elif isinstance(root["spec"].get(CLUSTER_SPEC[root["kind"]]), dict):
        key = CLUSTER_SPEC[root["kind"]]
        root["spec"][key] = simulated_raycluster_spec(root["spec"][key])
    return root


def sample_case(path: Path, prefix: str, folder: str = "", *, simulated: bool = True) -> Case:
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    roots = [doc for doc in documents if doc.get("kind") in ROOT_KINDS]
    assert len(roots) == 1, f"{path}: one RayCluster, RayJob or RayService per sample expected"
    root = on_simulated_nodes(roots[0]) if simulated else copy.deepcopy(roots[0])
    name = f"{prefix}-{_case_name(f'{folder}-{path.name}' if folder else path.name)}"
    root["metadata"] = {**root.get("metadata", {}), "name": name}
    root["metadata"].pop("namespace", None)
    case = Case(name=name, source=f"{path.parent.name}/{path.name}", root=root)
    for doc in documents:
        if doc is roots[0]:
            continue
        if doc.get("kind") in SUPPORTING:
            doc.get("metadata", {}).pop("namespace", None)
            case.supporting.append(doc)
        elif doc.get("kind") in CLUSTER_SCOPED:
            case.cluster_scoped.append(doc)
        else:
            case.left_out.append(f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}")
    return case


def _has_root(path: Path) -> bool:
    return any(doc and doc.get("kind") in ROOT_KINDS for doc in yaml.safe_load_all(path.read_text()))


def sample_cases() -> Iterator[Case]:
    for path in sorted(OWN_SAMPLES.glob("*.yaml")):
        if _has_root(path):
            yield sample_case(path, "own")
    folder = upstream.require() / "samples"
    for path in sorted(folder.rglob("*.yaml")):
        if path.name not in NOT_HERE and _has_root(path):
            sub = "" if path.parent == folder else path.parent.name
            yield sample_case(path, "kr", sub)


def _raycluster(name: str, spec: dict[str, Any], **metadata: Any) -> Case:
    root = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, **metadata},
        "spec": simulated_raycluster_spec(spec),
    }
    return Case(name=name, source="synthetic", root=root)


def _container(name: str = "ray", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "rayproject/ray:2.52.0", **extra}


def _basic(**head: Any) -> dict[str, Any]:
    return {
        "rayVersion": "2.52.0",
        "headGroupSpec": {
            "rayStartParams": {},
            "template": {"spec": {"containers": [_container("ray-head")]}},
            **head,
        },
        "workerGroupSpecs": [
            {
                "groupName": "workers",
                "replicas": 1,
                "minReplicas": 0,
                "maxReplicas": 3,
                "rayStartParams": {},
                "template": {"spec": {"containers": [_container("ray-worker")]}},
            }
        ],
    }


def synthetic_cases() -> Iterator[Case]:
    spec = _basic(
        headService={
            "metadata": {"labels": {"team": "a"}, "annotations": {"note": "x"}},
            "spec": {"ports": [{"name": "extra", "port": 9999}]},
        }
    )
    yield _raycluster("syn-head-service", spec)

    spec = _basic()
    spec["headGroupSpec"]["serviceType"] = "NodePort"
    yield _raycluster("syn-nodeport", spec)

    spec = _basic(enableIngress=True)
    yield _raycluster("syn-ingress", spec)

    spec = _basic()
    spec["enableInTreeAutoscaling"] = True
    yield _raycluster("syn-autoscaler-v1", spec)

    spec = _basic()
    spec["enableInTreeAutoscaling"] = True
    spec["autoscalerOptions"] = {"version": "v2", "idleTimeoutSeconds": 30, "upscalingMode": "Aggressive"}
    yield _raycluster("syn-autoscaler-v2", spec)

    spec = _basic()
    spec["gcsFaultToleranceOptions"] = {"redisAddress": "redis:6379"}
    yield _raycluster("syn-gcs-ft-options", spec)

    spec = _basic()
    spec["headGroupSpec"]["rayStartParams"] = {"redis-password": "secret"}
    yield _raycluster(
        "syn-gcs-ft-annotation",
        spec,
        annotations={"ray.io/ft-enabled": "true", "ray.io/external-storage-namespace": "ns1"},
    )

    spec = _basic()
    spec["workerGroupSpecs"][0]["numOfHosts"] = 2
    spec["workerGroupSpecs"][0]["replicas"] = 2
    yield _raycluster("syn-multi-host", spec)

    spec = _basic()
    spec["headGroupSpec"]["resources"] = {"CPU": "1", "custom": "2"}
    spec["headGroupSpec"]["labels"] = {"zone": "a"}
    spec["workerGroupSpecs"][0]["resources"] = {"GPU": "0", "TPU": "1"}
    spec["workerGroupSpecs"][0]["labels"] = {"tier": "cpu"}
    yield _raycluster("syn-group-resources-labels", spec)

    spec = _basic()
    spec["authOptions"] = {"mode": "token"}
    yield _raycluster("syn-auth-token", spec)

    spec = _basic()
    spec["workerGroupSpecs"][0]["groupName"] = "a-worker-group-with-a-rather-long-name-0123456789"
    yield _raycluster("syn-long-names-" + "x" * 30, spec)

    spec = _basic()
    spec["workerGroupSpecs"][0]["template"]["metadata"] = None
    yield _raycluster("syn-metadata-null", spec)

    spec = _basic()
    spec["workerGroupSpecs"][0]["replicas"] = 0
    spec["workerGroupSpecs"][0]["suspend"] = True
    yield _raycluster("syn-suspended-group", spec)

    spec = _basic()
    spec["suspend"] = True
    yield _raycluster("syn-suspended", spec)

    spec = _basic()
    container = spec["headGroupSpec"]["template"]["spec"]["containers"][0]
    container["resources"] = {"limits": {"cpu": "2", "memory": "4Gi"}, "requests": {"cpu": "1"}}
    container["env"] = [{"name": "USER_ENV", "value": "1"}]
    container["ports"] = [{"name": "custom", "containerPort": 7777}]
    spec["headGroupSpec"]["rayStartParams"] = {"num-cpus": "0", "dashboard-host": "0.0.0.0"}
    spec["workerGroupSpecs"][0]["rayStartParams"] = {"num-gpus": "0", "metrics-export-port": "9000"}
    yield _raycluster("syn-resources-env-params", spec)


# The kinds whose cases the suite compares (a subset runs faster while one kind is worked on).
COMPARED_KINDS = ("RayCluster", "RayJob", "RayService")


def all_cases(kinds: tuple[str, ...] = COMPARED_KINDS) -> list[Case]:
    cases = [case for case in (*sample_cases(), *synthetic_cases()) if case.kind in kinds]
    names = [case.name for case in cases]
    assert len(names) == len(set(names)), f"case names collide: {names}"
    return cases
