"""`raykopf local demo [--sample NAME]`: the local cluster and the operator, then one of the
repository's samples (manifests/samples/) run to the end while its progress is printed.

RayJob samples are followed until the job ends, then the driver's last lines are shown. The
serving sample is followed until its RayService is Ready; then its load generator runs while the
worker Pods the autoscaler adds are counted. The samples that read the trained model run the
training sample first when no model is on the node yet."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from raykopf_local.cluster import OPERATOR, LocalCluster

NAMESPACE = "raykopf-demo"
TIMEOUT = 900.0
# Where digits-train.yaml's hostPath volume keeps the model on the node.
MODEL = Path("/var/lib/raykopf-samples/digits/model.pkl")
Say = Callable[[str], None]


@dataclass(frozen=True)
class Sample:
    file: str
    about: str
    needs_model: bool = False


SAMPLES = {
    "rayjob": Sample("rayjob.sample.yaml", "a RayJob: Ray tasks on a worker (the default)"),
    "ray-core-primer": Sample(
        "ray-core-primer.yaml", "tasks, objects, actors, a task retried after its Pod goes"
    ),
    "digits-train": Sample("digits-train.yaml", "Ray Tune hyper-parameter search; writes the model"),
    "digits-batch-inference": Sample(
        "digits-batch-inference.yaml", "Ray Data batch inference", needs_model=True
    ),
    "digits-serve": Sample("digits-serve.yaml", "Ray Serve model under load, autoscaled", needs_model=True),
}


# The serving sample's load generator, run once the RayService is Ready.
LOAD = Sample("digits-load.yaml", "the load generator")


def samples_help() -> str:
    return "; ".join(f"{name}: {sample.about}" for name, sample in SAMPLES.items())


def _samples_dir() -> Path:
    # The repository's samples (an editable install keeps the package inside the repository).
    return Path(__file__).resolve().parents[2] / "manifests" / "samples"


def _documents(sample: Sample) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((_samples_dir() / sample.file).read_text()) if doc]


def _named(documents: list[dict[str, Any]], kind: str) -> str | None:
    return next((d["metadata"]["name"] for d in documents if d["kind"] == kind), None)


class _Kubectl:
    def __init__(self, kubectl: Path, kubeconfig: Path) -> None:
        self.base = [str(kubectl), "--kubeconfig", str(kubeconfig)]

    def __call__(self, *args: str, check: bool = True, stdin: str | None = None) -> str:
        done = subprocess.run([*self.base, *args], input=stdin, capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout

    def object(self, kind: str, name: str) -> dict[str, Any] | None:
        found = self("get", kind, name, "-n", NAMESPACE, "-o", "json", check=False)
        return json.loads(found) if found else None


def _progress(rayjob: dict[str, Any], cluster: dict[str, Any] | None) -> str:
    status = rayjob.get("status") or {}
    parts = [f"{status.get('jobDeploymentStatus') or 'New':<13}", f"job {status.get('jobStatus') or '-':<10}"]
    if status.get("rayClusterName"):
        state = ((cluster or {}).get("status") or {}).get("state") or "creating"
        parts.append(f"RayCluster {status['rayClusterName']} {state}")
    if status.get("message") and status.get("jobDeploymentStatus") != "Complete":
        parts.append(f"({status['message'].splitlines()[0][:100]})")
    return "  ".join(parts)


def _ready_condition(rayservice: dict[str, Any]) -> dict[str, Any]:
    conditions = (rayservice.get("status") or {}).get("conditions") or []
    found: dict[str, Any] = next((c for c in conditions if c.get("type") == "Ready"), {})
    return found


def _service_progress(rayservice: dict[str, Any]) -> str:
    status = rayservice.get("status") or {}
    ready = _ready_condition(rayservice)
    active = (status.get("activeServiceStatus") or {}).get("rayClusterName") or "-"
    pending = (status.get("pendingServiceStatus") or {}).get("rayClusterName") or "-"
    return f"Ready={ready.get('status', 'Unknown'):<5} {ready.get('reason', ''):<22} active {active}  pending {pending}"


def _version(cluster: LocalCluster) -> str:
    return (cluster.server_version() or "?").removeprefix("v")


def _fresh_apply(kubectl: _Kubectl, documents: list[dict[str, Any]]) -> None:
    """Apply the sample after deleting what an earlier run of it left (a finished RayJob and its
    submitter Job, a load Job), so each run starts from the beginning."""
    for doc in documents:
        if doc["kind"] in ("RayJob", "Job"):
            name = doc["metadata"]["name"]
            # A RayJob's submitter Job has the RayJob's name.
            for kind in ("rayjob", "job") if doc["kind"] == "RayJob" else ("job",):
                kubectl("delete", kind, name, "-n", NAMESPACE, "--ignore-not-found", "--wait=true")
    kubectl("apply", "-n", NAMESPACE, "-f", "-", stdin=yaml.safe_dump_all(documents))


def _follow_rayjob(kubectl: _Kubectl, name: str, say: Say) -> bool:
    applied, last = time.monotonic(), ""
    status: dict[str, Any] = {}
    while time.monotonic() - applied < TIMEOUT:
        rayjob = kubectl.object("rayjob", name) or {}
        status = rayjob.get("status") or {}
        cluster = (
            kubectl.object("raycluster", status["rayClusterName"]) if status.get("rayClusterName") else None
        )
        line = _progress(rayjob, cluster)
        if line != last:
            say(f"[{time.monotonic() - applied:5.0f} s] {line}")
            last = line
        if status.get("jobDeploymentStatus") in ("Complete", "Failed", "ValidationFailed"):
            break
        time.sleep(1)
    say(
        f"the RayJob ended {status.get('jobDeploymentStatus')}/{status.get('jobStatus') or '-'} "
        f"{time.monotonic() - applied:.0f} s after it was applied"
    )
    succeeded = status.get("jobStatus") == "SUCCEEDED"
    if not succeeded and status.get("message"):
        say(f"message: {status['message']}")
    say(f"the driver's output (kubectl logs job/{name}):")
    for line in kubectl("logs", "-n", NAMESPACE, f"job/{name}", check=False).splitlines()[-15:]:
        say(f"    {line}")
    return succeeded


def _workers(kubectl: _Kubectl, cluster: str) -> str:
    listing = json.loads(
        kubectl(
            "get",
            "pods",
            "-n",
            NAMESPACE,
            "-l",
            f"ray.io/cluster={cluster},ray.io/node-type=worker",
            "-o",
            "json",
        )
    )
    ready = sum(
        1
        for pod in listing["items"]
        if any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in pod["status"].get("conditions") or []
        )
    )
    return f"{len(listing['items'])} worker Pods ({ready} ready)"


def _follow_rayservice(kubectl: _Kubectl, documents: list[dict[str, Any]], say: Say) -> bool:
    name = _named(documents, "RayService") or ""
    applied, last = time.monotonic(), ""
    rayservice: dict[str, Any] = {}
    ready = False
    while time.monotonic() - applied < TIMEOUT and not ready:
        rayservice = kubectl.object("rayservice", name) or {}
        line = _service_progress(rayservice)
        if line != last:
            say(f"[{time.monotonic() - applied:5.0f} s] {line}")
            last = line
        ready = _ready_condition(rayservice).get("status") == "True"
        if not ready:
            time.sleep(1)
    if not ready:
        say(f"the RayService was not Ready {TIMEOUT:.0f} s after it was applied")
        return False
    active = (rayservice.get("status") or {}).get("activeServiceStatus") or {}
    cluster_name = active.get("rayClusterName", "")
    load = _documents(LOAD)
    job = _named(load, "Job") or "digits-load"
    say(
        f"Ready {time.monotonic() - applied:.0f} s after it was applied; starting the load generator Job {job}"
    )
    _fresh_apply(kubectl, load)
    started, last = time.monotonic(), ""
    outcome: dict[str, Any] = {}
    while time.monotonic() - started < TIMEOUT:
        state = (kubectl.object("job", job) or {}).get("status") or {}
        line = _workers(kubectl, cluster_name)
        if line != last:
            say(f"[{time.monotonic() - started:5.0f} s] {line}")
            last = line
        if state.get("succeeded") or state.get("failed"):
            outcome = state
            break
        time.sleep(2)
    say(f"the load generator's output (kubectl logs job/{job}):")
    for line in kubectl("logs", "-n", NAMESPACE, f"job/{job}", check=False).splitlines()[-16:]:
        say(f"    {line}")
    say(
        f"once the load stops, Serve and then the autoscaler remove the extra replicas and Pods: kubectl get pods -n {NAMESPACE} -w"
    )
    return bool(outcome.get("succeeded"))


def run_demo(cluster: LocalCluster, say: Say, sample: str = "rayjob") -> int:
    chosen = SAMPLES[sample]
    started = time.monotonic()
    cluster.up(say, operator=True)
    kubectl = _Kubectl(cluster.kubectl, cluster.kubeconfig)
    if not kubectl("get", "namespace", NAMESPACE, "--ignore-not-found", "-o", "name").strip():
        kubectl("create", "namespace", NAMESPACE)
    # Pods are admitted only once the namespace's default ServiceAccount exists.
    while not kubectl("get", "serviceaccount", "default", "-n", NAMESPACE, "-o", "name", check=False):
        time.sleep(0.5)
    if chosen.needs_model and not MODEL.exists():
        say(f"no trained model at {MODEL} yet: running the digits-train sample first")
        if not run_sample(kubectl, SAMPLES["digits-train"], say):
            return 1
    succeeded = run_sample(kubectl, chosen, say)
    say(f"{sample}: {'succeeded' if succeeded else 'failed'} ({time.monotonic() - started:.0f} s in all)")
    say("next:")
    say(f"    export KUBECONFIG={cluster.kubeconfig}")
    say(f"    alias kubectl={cluster.kubectl}   # built with the cluster (v{_version(cluster)})")
    say(f"    kubectl get rayjobs,rayservices,rayclusters,pods -n {NAMESPACE}")
    say(f"    operator log: {cluster.processes.log(OPERATOR)}")
    say(f"    node agent and control-plane logs: {cluster.layout.logs}/")
    say("    raykopf local down                                 # stop everything")
    return 0 if succeeded else 1


def run_sample(kubectl: _Kubectl, sample: Sample, say: Say) -> bool:
    documents = _documents(sample)
    _fresh_apply(kubectl, documents)
    rayjob = _named(documents, "RayJob")
    kind, name = ("RayJob", rayjob) if rayjob else ("RayService", _named(documents, "RayService"))
    say(f"applied {sample.file}; progress of {kind} {NAMESPACE}/{name}:")
    if rayjob:
        return _follow_rayjob(kubectl, rayjob, say)
    return _follow_rayservice(kubectl, documents, say)
