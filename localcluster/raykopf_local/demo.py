"""`raykopf local demo`: the local cluster and the operator, then the sample RayJob
(manifests/samples/rayjob.sample.yaml) run to the end while its progress is printed."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from raykopf_local.cluster import OPERATOR, LocalCluster

NAMESPACE = "raykopf-demo"
RAYJOB = "rayjob-sample"
TIMEOUT = 900.0


def _sample() -> Path:
    # The repository's sample (an editable install keeps the package inside the repository).
    return Path(__file__).resolve().parents[2] / "manifests" / "samples" / "rayjob.sample.yaml"


class _Kubectl:
    def __init__(self, kubectl: Path, kubeconfig: Path) -> None:
        self.base = [str(kubectl), "--kubeconfig", str(kubeconfig)]

    def __call__(self, *args: str, check: bool = True) -> str:
        done = subprocess.run([*self.base, *args], capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout


def _progress(rayjob: dict[str, Any], cluster: dict[str, Any] | None) -> str:
    status = rayjob.get("status") or {}
    parts = [f"{status.get('jobDeploymentStatus') or 'New':<13}", f"job {status.get('jobStatus') or '-':<10}"]
    if status.get("rayClusterName"):
        state = ((cluster or {}).get("status") or {}).get("state") or "creating"
        parts.append(f"RayCluster {status['rayClusterName']} {state}")
    if status.get("message") and status.get("jobDeploymentStatus") != "Complete":
        parts.append(f"({status['message'].splitlines()[0][:100]})")
    return "  ".join(parts)


def _version(cluster: LocalCluster) -> str:
    return (cluster.server_version() or "?").removeprefix("v")


def run_demo(cluster: LocalCluster, say: Callable[[str], None]) -> int:
    started = time.monotonic()
    cluster.up(say, operator=True)
    kubectl = _Kubectl(cluster.kubectl, cluster.kubeconfig)
    if not kubectl("get", "namespace", NAMESPACE, "--ignore-not-found", "-o", "name").strip():
        kubectl("create", "namespace", NAMESPACE)
    # Pods are admitted only once the namespace's default ServiceAccount exists.
    while not kubectl("get", "serviceaccount", "default", "-n", NAMESPACE, "-o", "name", check=False):
        time.sleep(0.5)
    kubectl("delete", "rayjob", RAYJOB, "-n", NAMESPACE, "--ignore-not-found", "--wait=true")
    kubectl("delete", "job", RAYJOB, "-n", NAMESPACE, "--ignore-not-found", "--wait=true")
    kubectl("apply", "-n", NAMESPACE, "-f", str(_sample()))
    say(f"applied {_sample().name}; progress of RayJob {NAMESPACE}/{RAYJOB}:")
    applied, last = time.monotonic(), ""
    status: dict[str, Any] = {}
    while time.monotonic() - applied < TIMEOUT:
        rayjob = json.loads(kubectl("get", "rayjob", RAYJOB, "-n", NAMESPACE, "-o", "json"))
        status = rayjob.get("status") or {}
        name = status.get("rayClusterName")
        found = kubectl("get", "raycluster", name, "-n", NAMESPACE, "-o", "json", check=False) if name else ""
        line = _progress(rayjob, json.loads(found) if found else None)
        if line != last:
            say(f"[{time.monotonic() - applied:5.0f} s] {line}")
            last = line
        if status.get("jobDeploymentStatus") in ("Complete", "Failed", "ValidationFailed"):
            break
        time.sleep(1)
    succeeded = status.get("jobStatus") == "SUCCEEDED"
    say(
        f"the RayJob ended {status.get('jobDeploymentStatus')}/{status.get('jobStatus') or '-'} "
        f"{time.monotonic() - applied:.0f} s after it was applied ({time.monotonic() - started:.0f} s in all)"
    )
    if not succeeded and status.get("message"):
        say(f"message: {status['message']}")
    say("the driver's output (kubectl logs job/rayjob-sample):")
    for line in kubectl("logs", "-n", NAMESPACE, f"job/{RAYJOB}", check=False).splitlines()[-15:]:
        say(f"    {line}")
    say("next:")
    say(f"    export KUBECONFIG={cluster.kubeconfig}")
    say(f"    alias kubectl={cluster.kubectl}   # built with the cluster (v{_version(cluster)})")
    say(f"    kubectl get rayjobs,rayclusters,pods -n {NAMESPACE}")
    say(f"    kubectl logs -n {NAMESPACE} job/{RAYJOB}          # the driver's output, again")
    say(f"    operator log: {cluster.processes.log(OPERATOR)}")
    say(f"    node agent and control-plane logs: {cluster.layout.logs}/")
    say("    raykopf local down                                 # stop everything")
    return 0 if succeeded else 1
