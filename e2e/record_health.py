"""Record what RayClusters, RayJobs and RayServices look like in each state the Argo CD health checks
(docs/gitops/argocd/) tell apart, from real runs on the local cluster and its operator:

    sudo .venv/bin/raykopf local up && .venv/bin/python -m e2e.record_health

writes docs/gitops/argocd/ray.io/<Kind>/testdata/<state>.yaml (the object as the operator left it,
trimmed of fields no health check reads). The expected health of each file is written by hand in
health_test.yaml beside it; tests/unit/test_gitops.py runs the checks against the files.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from collections.abc import Callable
from typing import Any

import yaml

from e2e.conformance.cases import simulated_raycluster_spec
from e2e.conftest import ROOT, Kubectl, create_namespace, drop_ray_finalizers
from e2e.ray_jobs import HEAD_ONLY
from raykopf_local.cluster import LocalCluster
from raykopf_local.paths import Layout

OUT = ROOT / "docs" / "gitops" / "argocd" / "ray.io"
SAMPLES = ROOT / "manifests" / "samples"
NAMESPACE = "health-record"
NOWHERE = {"raykopf.io/no-such-node": "true"}  # Pods that never schedule


def sample(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((SAMPLES / name).read_text()) if doc]


def root_of(documents: list[dict[str, Any]]) -> dict[str, Any]:
    return copy.deepcopy(next(d for d in documents if d["apiVersion"].startswith("ray.io/")))


def named(body: dict[str, Any], name: str) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["metadata"] = {"name": name}
    return body


def typo(spec: dict[str, Any]) -> None:
    spec["headGroupSpec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"


class Recorder:
    def __init__(self, kubectl: Kubectl) -> None:
        self.kubectl = kubectl

    def apply(self, *documents: dict[str, Any]) -> None:
        self.kubectl("apply", "-n", NAMESPACE, "-f", "-", input=yaml.safe_dump_all(documents))

    def get(self, kind: str, name: str) -> dict[str, Any]:
        body: dict[str, Any] = self.kubectl.json("get", kind.lower(), name, "-n", NAMESPACE)
        return body

    def record(
        self, kind: str, name: str, state: str, until: Callable[[dict[str, Any]], bool], timeout: float = 300
    ) -> None:
        deadline = time.monotonic() + timeout
        while True:
            body = self.get(kind, name)
            if until(body):
                break
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"{kind} {name}: not {state} after {timeout:.0f} s: {json.dumps(body.get('status'))}"
                )
            time.sleep(2)
        folder = OUT / kind / "testdata"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{state}.yaml").write_text(yaml.safe_dump(trimmed(body), sort_keys=False))
        print(f"recorded {kind} {state}", flush=True)


def trimmed(body: dict[str, Any]) -> dict[str, Any]:
    """What a health check may read: kind, name, generation, the spec's switches, the whole status."""
    meta = body["metadata"]
    spec = body.get("spec") or {}
    kept = {
        k: spec[k]
        for k in ("suspend", "enableInTreeAutoscaling", "submissionMode", "shutdownAfterJobFinishes")
        if k in spec
    }
    return {
        "apiVersion": body["apiVersion"],
        "kind": body["kind"],
        "metadata": {"name": meta["name"], "namespace": "default", "generation": meta.get("generation")},
        "spec": kept,
        "status": body.get("status") or {},
    }


def state(body: dict[str, Any]) -> Any:
    return (body.get("status") or {}).get("state")


def job(body: dict[str, Any]) -> tuple[Any, Any]:
    status = body.get("status") or {}
    return status.get("jobDeploymentStatus"), status.get("jobStatus")


def condition(body: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        (c for c in (body.get("status") or {}).get("conditions") or [] if c["type"] == kind), {}
    )
    return found


def clusters(r: Recorder) -> None:
    base = root_of(sample("raycluster.sample.yaml"))
    ready = named(base, "ready")
    ready["spec"] = simulated_raycluster_spec(ready["spec"])
    scaling = copy.deepcopy(ready)
    scaling["metadata"]["name"] = "scaling"
    extra = copy.deepcopy(scaling["spec"]["workerGroupSpecs"][0])
    extra.update(groupName="pending", replicas=0, minReplicas=0, maxReplicas=4)
    extra["template"]["spec"]["nodeSelector"] = NOWHERE
    scaling["spec"]["workerGroupSpecs"].append(extra)
    invalid = copy.deepcopy(ready)
    invalid["metadata"]["name"] = "invalid"
    typo(invalid["spec"])
    suspended = copy.deepcopy(ready)
    suspended["metadata"]["name"] = "suspended"
    suspended["spec"]["suspend"] = True
    starting = copy.deepcopy(ready)
    starting["metadata"]["name"] = "starting"
    starting["spec"]["headGroupSpec"]["template"]["spec"]["nodeSelector"] = NOWHERE
    r.apply(ready, scaling, invalid, suspended, starting)
    r.record("RayCluster", "ready", "ready", lambda b: state(b) == "ready")
    r.record(
        "RayCluster",
        "invalid",
        "invalid",
        lambda b: str((b.get("status") or {}).get("reason", "")).startswith("Invalid"),
    )
    r.record("RayCluster", "suspended", "suspended", lambda b: state(b) == "suspended")
    r.record("RayCluster", "starting", "starting", lambda b: bool(condition(b, "RayClusterProvisioned")))
    r.record("RayCluster", "scaling", "ready-before-scaling", lambda b: state(b) == "ready")
    r.kubectl(
        "patch", "raycluster", "scaling", "-n", NAMESPACE, "--type=json",
        "-p", '[{"op": "replace", "path": "/spec/workerGroupSpecs/1/replicas", "value": 2}]',
    )  # fmt: skip
    r.record(
        "RayCluster",
        "scaling",
        "scaling",
        lambda b: (b.get("status") or {}).get("desiredWorkerReplicas") == 3,
    )


def real_job(name: str, entrypoint: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": name},
        "spec": {"entrypoint": entrypoint, "rayClusterSpec": copy.deepcopy(HEAD_ONLY), **spec},
    }


def jobs(r: Recorder) -> None:
    base = root_of(sample("rayjob.sample.yaml"))
    simulated = named(base, "suspended")
    simulated["spec"]["rayClusterSpec"] = simulated_raycluster_spec(simulated["spec"]["rayClusterSpec"])
    simulated["spec"]["suspend"] = True
    waiting = named(simulated, "waiting")
    waiting["spec"].pop("suspend")
    waiting["spec"]["submissionMode"] = "InteractiveMode"
    invalid = named(simulated, "invalid")
    invalid["spec"].pop("suspend")
    typo(invalid["spec"]["rayClusterSpec"])
    r.apply(simulated, waiting, invalid)
    r.record("RayJob", "suspended", "suspended", lambda b: job(b)[0] == "Suspended")
    r.record("RayJob", "waiting", "waiting", lambda b: job(b)[0] == "Waiting")
    r.record("RayJob", "invalid", "invalid", lambda b: job(b)[0] == "ValidationFailed")
    r.apply(
        real_job("running", "python -c 'import time; time.sleep(900)'"),
        real_job("complete", "python -c 'print(6 * 7)'"),
        real_job("failed", "python -c 'import sys; sys.exit(3)'", backoffLimit=0),
    )
    r.record("RayJob", "running", "running", lambda b: job(b) == ("Running", "RUNNING"), timeout=400)
    r.record("RayJob", "complete", "complete", lambda b: job(b)[0] == "Complete", timeout=400)
    r.record("RayJob", "failed", "failed", lambda b: job(b)[0] == "Failed", timeout=400)
    r.kubectl("delete", "rayjob", "--all", "-n", NAMESPACE, "--wait=false")


def services(r: Recorder) -> None:
    documents = sample("rayservice.sample.yaml")
    base = root_of(documents)
    r.apply(*[d for d in documents if d["kind"] == "ConfigMap"])
    invalid = named(base, "invalid")
    typo(invalid["spec"]["rayClusterConfig"])
    r.apply(invalid)
    r.record(
        "RayService",
        "invalid",
        "invalid",
        lambda b: condition(b, "Ready").get("reason") == "ValidationFailed",
    )
    ready = named(base, "serving")
    r.apply(ready)
    r.record(
        "RayService", "serving", "starting", lambda b: condition(b, "Ready").get("reason") == "Initializing"
    )
    r.record(
        "RayService", "serving", "ready", lambda b: condition(b, "Ready").get("status") == "True", timeout=600
    )
    # A new cluster that never starts: the upgrade stays in progress, the old cluster serves.
    r.kubectl(
        "patch", "rayservice", "serving", "-n", NAMESPACE, "--type=merge",
        "-p", json.dumps({"spec": {"rayClusterConfig": {"headGroupSpec": {"template": {"spec": {"nodeSelector": NOWHERE}}}}}}),
    )  # fmt: skip
    r.record(
        "RayService",
        "serving",
        "upgrading",
        lambda b: condition(b, "UpgradeInProgress").get("status") == "True",
    )
    r.kubectl("delete", "rayservice", "serving", "-n", NAMESPACE, "--wait=false")
    broken = named(base, "broken")
    config = yaml.safe_load(broken["spec"]["serveConfigV2"])
    config["applications"][0]["import_path"] = "no_such_module:app"
    broken["spec"]["serveConfigV2"] = yaml.safe_dump(config)
    r.apply(broken)

    def deploy_failed(body: dict[str, Any]) -> bool:
        apps = ((body.get("status") or {}).get("pendingServiceStatus") or {}).get("applicationStatuses") or {}
        apps.update(
            ((body.get("status") or {}).get("activeServiceStatus") or {}).get("applicationStatuses") or {}
        )
        return any(app.get("status") == "DEPLOY_FAILED" for app in apps.values())

    r.record("RayService", "broken", "failed", deploy_failed, timeout=600)


def write_configmap() -> None:
    """docs/gitops/argocd/argocd-cm.yaml: the three scripts under the keys Argo CD reads."""
    data = {
        f"resource.customizations.health.ray.io_{kind}": (OUT / kind / "health.lua").read_text()
        for kind in ("RayCluster", "RayJob", "RayService")
    }
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "argocd-cm", "namespace": "argocd"},
    }
    header = "# Merge into Argo CD's argocd-cm (made from ray.io/*/health.lua by `python -m e2e.record_health --configmap`).\n"

    class Literal(yaml.SafeDumper):
        pass

    def block(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)

    Literal.add_representer(str, block)
    text = yaml.dump({**config, "data": data}, Dumper=Literal, sort_keys=False, width=1000)
    (OUT.parent / "argocd-cm.yaml").write_text(header + text)


def main() -> int:
    if sys.argv[1:] == ["--configmap"]:
        write_configmap()
        return 0
    layout = Layout.default()
    cluster = LocalCluster(layout)
    kubectl = Kubectl(cluster.kubeconfig, cluster.kubectl)
    kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false")
    drop_ray_finalizers(kubectl, NAMESPACE)
    kubectl("wait", "--for=delete", f"namespace/{NAMESPACE}", "--timeout=120s", check=False)
    create_namespace(kubectl, NAMESPACE)
    recorder = Recorder(kubectl)
    only = set(sys.argv[1:]) or {"RayCluster", "RayJob", "RayService"}
    try:
        if "RayCluster" in only:
            clusters(recorder)
        if "RayJob" in only:
            jobs(recorder)
        if "RayService" in only:
            services(recorder)
    finally:
        kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)
        drop_ray_finalizers(kubectl, NAMESPACE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
