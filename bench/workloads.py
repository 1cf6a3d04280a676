"""The workload samples measured on the local cluster (real Ray, real processes, this machine):

- RayJob overhead: kubectl apply -> SUCCEEDED for digits-train.yaml, against the same driver run by
  hand on a Ray cluster of the same shape started with `ray start` on this machine, and where the
  difference goes (the operator's steps, Pod and Ray start, submission, status).
- Batch inference rows/s (digits-batch-inference.yaml) on 1 and on 2 workers.
- Serving (digits-serve.yaml, load from digits-load.yaml's Pod): requests/s and latency at 1 replica
  and at 3; from the start of sustained load to the extra worker Pods Ready and to the higher
  throughput; failed requests while the autoscaler scales up and back down, during a model update
  (user_config, in place) and during a cluster upgrade (new rayClusterConfig, blue/green).

    python -m bench.workloads [--parts overhead,batch,serving] [--rows-repeat 100]

Uses (and leaves running) the local cluster with the host operator: `raykopf local up --operator`.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from e2e import workloads
from e2e.conftest import Kubectl, wait_for

from bench.harness import say
from raykopf_local.cluster import LocalCluster
from raykopf_local.runtime_env import runtime_bin

NAMESPACE = "bench-workloads"
MODELS = Path("/var/lib/raykopf-samples/bench")
# Grids of the training search: the sample's 9 trials, and longer jobs of 36 and 81 trials.
GRIDS = {
    "9 trials": ("1,10,100", "0.0003,0.001,0.003"),
    "36 trials": ("0.3,1,3,10,30,100", "0.0001,0.0003,0.001,0.002,0.003,0.01"),
    "81 trials": (
        "0.3,0.5,1,2,3,10,30,100,300",
        "0.0001,0.0002,0.0003,0.0005,0.001,0.002,0.003,0.005,0.01",
    ),
}


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _code(sample: str) -> dict[str, str]:
    """The Python files of a sample's ConfigMap: the very code the RayJob runs."""
    config_map = next(d for d in workloads.documents(sample) if d["kind"] == "ConfigMap")
    return dict(config_map["data"])


def _with_grid(docs: list[dict[str, Any]], grid: str) -> list[dict[str, Any]]:
    c_values, gammas = GRIDS[grid]
    for doc in docs:
        if doc["kind"] == "RayJob":
            doc["spec"]["runtimeEnvYAML"] = yaml.safe_dump(
                {"env_vars": {"C_VALUES": c_values, "GAMMA_VALUES": gammas}}
            )
    return docs


# --- RayJob overhead -------------------------------------------------------------------------------


class HandCluster:
    """A head (0 CPUs) and two workers (1 CPU each), as the sample's RayCluster, from `ray start`
    on loopback addresses of this machine; each its own process group, stopped by group."""

    def __init__(self, bin_dir: Path, folder: Path) -> None:
        self.bin, self.folder = bin_dir, folder
        self.processes: list[subprocess.Popen[bytes]] = []
        self.env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "RAY_USAGE_STATS_ENABLED": "0"}

    def _start(self, name: str, args: list[str]) -> None:
        scratch = self.folder / name
        (scratch / "tmp").mkdir(parents=True)
        log = (scratch / "ray.log").open("wb")
        command = [str(self.bin / "ray"), "start", "--block", "--disable-usage-stats", *args]
        env = {**self.env, "TMPDIR": str(scratch / "tmp")}
        self.processes.append(
            subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)
        )

    def start(self) -> None:
        head = ["--head", "--node-ip-address=127.0.0.42", "--port=6942", "--dashboard-host=127.0.0.42"]
        head += ["--num-cpus=0", "--object-store-memory=200000000", f"--temp-dir={self.folder / 'ray'}"]
        head += ["--dashboard-agent-listen-port=52942"]
        self._start("head", head)
        probe = "import ray; ray.init(); print(sum(1 for n in ray.nodes() if n['Alive']))"

        def joined(nodes: int) -> bool:
            for process in self.processes:
                if process.poll() is not None:
                    raise SystemExit(f"{process.args!r} exited: see {self.folder}/*/ray.log")
            return self.run_driver(["-c", probe], {}, quiet=True)[1].strip().endswith(str(nodes))

        wait_for(functools.partial(joined, 1), 180, "the Ray head")
        # Workers after the head, as a Pod's wait-for-GCS does: on 2 cores, three starting at once made
        # a raylet miss its registration deadline.
        for index in (1, 2):
            worker = ["--address=127.0.0.42:6942", f"--node-ip-address=127.0.0.{42 + index}", "--num-cpus=1"]
            worker += ["--object-store-memory=100000000", f"--dashboard-agent-listen-port={52942 + index}"]
            self._start(f"worker{index}", worker)
        wait_for(functools.partial(joined, 3), 180, "3 Ray nodes")

    def run_driver(self, args: list[str], env: dict[str, str], quiet: bool = False) -> tuple[float, str]:
        started = time.monotonic()
        done = subprocess.run(
            [str(self.bin / "python"), *args],
            env={**self.env, "RAY_ADDRESS": "127.0.0.42:6942", **env},
            capture_output=True,
            text=True,
            check=not quiet,
            timeout=900,
        )
        return time.monotonic() - started, done.stdout

    def stop(self) -> None:
        """SIGTERM each node's process group, then SIGKILL what is left of it (Ray's agents can
        outlive their `ray start`)."""
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=40)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def by_hand(bin_dir: Path) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="bench-hand-"))
    code = folder / "train.py"
    code.write_text(_code("digits-train.yaml")["train.py"])
    cluster = HandCluster(bin_dir, folder)
    times: dict[str, float] = {}
    try:
        started = time.monotonic()
        cluster.start()
        times["cluster start"] = time.monotonic() - started
        for grid, (c_values, gammas) in GRIDS.items():
            env = {"MODEL_DIR": str(folder / "models"), "C_VALUES": c_values, "GAMMA_VALUES": gammas}
            times[grid], _ = cluster.run_driver([str(code)], env)
            say(f"by hand: {grid}: driver {times[grid]:.1f} s")
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return times


def _quick_probes(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every Ray container with its own readiness probe: the check the operator would add (the
    agent's health endpoint), from 1 s after the start and every second after, instead of the
    injected 10 s and 5 s."""
    for doc in docs:
        if doc["kind"] != "RayJob":
            continue
        spec = doc["spec"]["rayClusterSpec"]
        for group in [spec["headGroupSpec"], *spec["workerGroupSpecs"]]:
            container = group["template"]["spec"]["containers"][0]
            container["readinessProbe"] = {
                "httpGet": {"path": "/api/healthz", "port": 52365},
                "initialDelaySeconds": 1,
                "periodSeconds": 1,
                "timeoutSeconds": 2,
                "failureThreshold": 60,
            }
    return docs


def through_operator(kubectl: Kubectl, grid: str, quick_probes: bool = False) -> dict[str, float]:
    """One digits-train RayJob: when each step was first seen (seconds after the apply)."""
    name = "digits-train"
    kubectl("delete", "rayjob", name, "-n", NAMESPACE, "--ignore-not-found", "--wait=true")
    docs = _with_grid(workloads.with_models(workloads.documents("digits-train.yaml"), MODELS), grid)
    if quick_probes:
        docs = _quick_probes(docs)
    applied = time.time()
    workloads.apply(kubectl, NAMESPACE, docs)
    seen: dict[str, float] = {}
    while "SUCCEEDED" not in seen:
        status = workloads.rayjob_status(kubectl, NAMESPACE, name)
        now = time.time() - applied
        if status.get("rayClusterName"):
            seen.setdefault("RayCluster named", now)
        if status.get("jobStatus") in ("RUNNING", "SUCCEEDED"):
            seen.setdefault("RUNNING", now)
        if status.get("jobStatus") == "SUCCEEDED":
            seen["SUCCEEDED"] = now
        if status.get("jobDeploymentStatus") == "Failed" or now > 900:
            raise SystemExit(f"RayJob {name} did not succeed: {status}")
        time.sleep(0.25)
    status = workloads.rayjob_status(kubectl, NAMESPACE, name)
    pods = kubectl.json("get", "pods", "-n", NAMESPACE, "-l", f"ray.io/cluster={status['rayClusterName']}")[
        "items"
    ]
    for pod in pods:
        role = pod["metadata"]["labels"]["ray.io/node-type"]
        created = _stamp(pod["metadata"]["creationTimestamp"]) - applied
        ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
        seen[f"{role} Pod created"] = min(seen.get(f"{role} Pod created", 1e9), created)
        seen[f"{role} Pod Ready"] = max(
            seen.get(f"{role} Pod Ready", 0), _stamp(ready["lastTransitionTime"]) - applied
        )
    info = status.get("rayJobInfo") or {}
    if info.get("startTime") and info.get("endTime"):
        seen["driver started"] = _stamp(info["startTime"]) - applied
        seen["driver ended"] = _stamp(info["endTime"]) - applied
    submitter = kubectl.json("get", "pods", "-n", NAMESPACE, "-l", f"job-name={name}")["items"]
    if submitter:
        seen["submitter Pod created"] = _stamp(submitter[0]["metadata"]["creationTimestamp"]) - applied
    log = kubectl("logs", "-n", NAMESPACE, f"job/{name}")
    accuracy = re.search(r"test accuracy: ([0-9.]+)", log)
    seen["accuracy"] = float(accuracy.group(1)) if accuracy else float("nan")
    return seen


def overhead(kubectl: Kubectl, bin_dir: Path) -> list[str]:
    hand = by_hand(bin_dir)
    rows = ["RayJob overhead (digits-train.yaml: head + 2 workers; seconds)", ""]
    rows.append(f"{'':<14}{'by hand':>9}{'RayJob':>9}{'overhead':>10}{'share':>8}   where it goes")
    runs = [(grid, grid, False) for grid in GRIDS] + [("9, probes 1 s", "9 trials", True)]
    for label, grid, quick in runs:
        seen = through_operator(kubectl, grid, quick_probes=quick)
        say(f"operator: {label}: {json.dumps({k: round(v, 1) for k, v in seen.items()})}")
        total, added = seen["SUCCEEDED"], seen["SUCCEEDED"] - hand[grid]
        parts = [
            ("to the head Pod", seen.get("head Pod created", 0)),
            ("Pods to Ready", seen.get("worker Pod Ready", 0) - seen.get("head Pod created", 0)),
            ("to RUNNING", seen["RUNNING"] - seen.get("worker Pod Ready", 0)),
            ("end to status", seen["SUCCEEDED"] - seen.get("driver ended", seen["SUCCEEDED"])),
        ]
        where = ", ".join(f"{label} {value:.1f}" for label, value in parts)
        rows.append(
            f"{label:<14}{hand[grid]:>9.1f}{total:>9.1f}{added:>10.1f}{added / total:>8.0%}   {where}"
        )
    rows.append("")
    rows.append(
        f"by hand, the Ray cluster itself took {hand['cluster start']:.1f} s to start (not counted above)"
    )
    return rows


# --- Batch inference ------------------------------------------------------------------------------


def batch(kubectl: Kubectl, repeat: int) -> list[str]:
    rows = [f"Batch inference (digits-batch-inference.yaml, {1797 * repeat} rows)", ""]
    for workers in (1, 2):
        name = "digits-batch-inference"
        kubectl("delete", "rayjob", name, "-n", NAMESPACE, "--ignore-not-found", "--wait=true")
        docs = workloads.with_models(workloads.documents("digits-batch-inference.yaml"), MODELS)
        for doc in docs:
            if doc["kind"] == "RayJob":
                doc["spec"]["runtimeEnvYAML"] = yaml.safe_dump({"env_vars": {"REPEAT": str(repeat)}})
                group = doc["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]
                group["replicas"] = group["minReplicas"] = group["maxReplicas"] = workers
        workloads.apply(kubectl, NAMESPACE, docs)
        ended = workloads.wait_rayjob_ended(kubectl, NAMESPACE, name, 900)
        log = kubectl("logs", "-n", NAMESPACE, f"job/{name}")
        found = re.search(r"classified (\d+) images in ([0-9.]+) s: (\d+) rows/s on (\d+) workers", log)
        if ended.get("jobStatus") != "SUCCEEDED" or not found:
            raise SystemExit(f"batch inference on {workers} workers failed: {log[-2000:]}")
        say(f"batch inference, {workers} workers: {found.group(0)}")
        rows.append(
            f"{workers} worker(s): {int(found.group(3)):>7} rows/s ({found.group(1)} rows in {found.group(2)} s)"
        )
    return rows


# --- Serving --------------------------------------------------------------------------------------


class Load:
    """digits-load.yaml's Job with these settings; its 10-s windows and summary parsed from its log."""

    def __init__(self, kubectl: Kubectl, name: str, **env: str) -> None:
        self.kubectl, self.name = kubectl, name
        kubectl("delete", "job", name, "-n", NAMESPACE, "--ignore-not-found", "--wait=true")
        docs = workloads.with_env(workloads.documents("digits-load.yaml"), **env)
        for doc in docs:
            if doc["kind"] == "Job":
                doc["metadata"]["name"] = name
        workloads.apply(kubectl, NAMESPACE, docs)
        self.started = wait_for(self._running, 120, f"the load Pod {name} to run")

    def _running(self) -> float | None:
        pods = self.kubectl.json("get", "pods", "-n", NAMESPACE, "-l", f"job-name={self.name}")["items"]
        for pod in pods:
            for state in pod["status"].get("containerStatuses") or []:
                for phase in ("running", "terminated"):
                    if phase in state["state"]:
                        return _stamp(state["state"][phase]["startedAt"])
        return None

    def done(self) -> bool:
        return workloads.job_finished(self.kubectl, NAMESPACE, self.name)

    def wait(self, timeout: float = 600) -> dict[str, Any]:
        wait_for(self.done, timeout, f"the load Job {self.name} to finish", interval=2)
        return workloads.job_summary(self.kubectl, NAMESPACE, f"{self.name}")

    def so_far(self) -> tuple[int, int]:
        """Requests answered and failed up to its last 10-s line (for a Job stopped before its end)."""
        log = self.kubectl("logs", "-n", NAMESPACE, f"job/{self.name}")
        counts = re.findall(r"answered (\d+)\s+failed (\d+)", log)
        return (int(counts[-1][0]), int(counts[-1][1])) if counts else (0, 0)

    def windows(self) -> list[tuple[float, float, float, float]]:
        """(seconds since start, requests/s, p50 ms, p99 ms) of each 10-s window."""
        log = self.kubectl("logs", "-n", NAMESPACE, f"job/{self.name}")
        pattern = r"\[\s*([0-9]+) s\]\s+([0-9.]+) req/s\s+p50\s+([0-9.]+) ms\s+p99\s+([0-9.]+) ms"
        return [tuple(float(v) for v in m.groups()) for m in re.finditer(pattern, log)]  # type: ignore[misc]


def _serve_config(kubectl: Kubectl, change: Callable[[dict[str, Any]], None]) -> None:
    """Change the sample's one deployment."""
    workloads.patch_serve_config(
        kubectl, NAMESPACE, "digits", lambda config: change(config["applications"][0]["deployments"][0])
    )


def _active(kubectl: Kubectl) -> str:
    status = workloads.rayservice_status(kubectl, NAMESPACE, "digits")
    return str((status.get("activeServiceStatus") or {}).get("rayClusterName") or "")


def _replicas_running(kubectl: Kubectl, wanted: int) -> bool:
    status = workloads.rayservice_status(kubectl, NAMESPACE, "digits")
    applications = (status.get("activeServiceStatus") or {}).get("applicationStatuses") or {}
    app = applications.get("digits") or {}
    deployment = (app.get("serveDeploymentStatuses") or {}).get("DigitClassifier") or {}
    return (
        app.get("status") == "RUNNING"
        and deployment.get("status") == "HEALTHY"
        and workloads.ready_pods(workloads.worker_pods(kubectl, NAMESPACE, _active(kubectl))) >= wanted
    )


def _stats(summary: dict[str, Any]) -> str:
    return (
        f"{summary['requests_per_s']:>7.1f} req/s  p50 {summary['p50_ms']:>6.1f} ms  p99 {summary['p99_ms']:>6.1f} ms"
        f"  {summary['requests']} requests, {summary['failed']} failed"
    )


def serving(kubectl: Kubectl, seconds: int) -> list[str]:
    rows = ["Serving (digits-serve.yaml; 8 clients in a Pod, POST /predict through digits-serve-svc)", ""]
    kubectl("delete", "rayservice", "digits", "-n", NAMESPACE, "--ignore-not-found", "--wait=true")
    docs = workloads.with_models(workloads.documents("digits-serve.yaml"), MODELS)
    sample = copy.deepcopy(next(d for d in docs if d["kind"] == "RayService"))
    autoscaling = yaml.safe_load(sample["spec"]["serveConfigV2"])["applications"][0]["deployments"][0][
        "autoscaling_config"
    ]
    workloads.apply(kubectl, NAMESPACE, docs)
    wait_for(
        lambda: workloads.rayservice_ready(kubectl, NAMESPACE, "digits"), 600, "RayService digits Ready", 2
    )
    cluster = _active(kubectl)

    def fixed(replicas: int) -> Callable[[dict[str, Any]], None]:
        def change(deployment: dict[str, Any]) -> None:
            deployment["autoscaling_config"] = {
                **autoscaling,
                "min_replicas": replicas,
                "max_replicas": replicas,
            }

        return change

    fixed_rates: dict[int, float] = {}
    for replicas in (1, 3):
        _serve_config(kubectl, fixed(replicas))
        wait_for(
            functools.partial(_replicas_running, kubectl, replicas), 300, f"{replicas} replicas serving", 2
        )
        summary = Load(kubectl, f"load-{replicas}", SECONDS=str(seconds), CONCURRENCY="8").wait()
        say(f"{replicas} replica(s): {json.dumps(summary)}")
        rows.append(f"{replicas} replica(s): {_stats(summary)}")
        fixed_rates[replicas] = summary["requests_per_s"]
    # Back to the sample's autoscaling, down to one replica and one worker Pod before the load.
    _serve_config(kubectl, lambda deployment: deployment.update(autoscaling_config=autoscaling))
    wait_for(
        lambda: len(workloads.worker_pods(kubectl, NAMESPACE, cluster)) == 1, 400, "one worker Pod left", 2
    )
    heavy = Load(kubectl, "load-burst", SECONDS="150", CONCURRENCY="8")
    ready_at: dict[int, float] = {}
    while not heavy.done():
        pods = workloads.worker_pods(kubectl, NAMESPACE, cluster)
        ready_at.setdefault(workloads.ready_pods(pods), time.time() - heavy.started)
        time.sleep(1)
    burst = heavy.wait()
    higher = next((t for t, rate, _, _ in heavy.windows() if rate > 1.15 * fixed_rates[1]), None)
    light = Load(kubectl, "load-trickle", SECONDS="300", CONCURRENCY="1")
    gone = wait_for(
        lambda: len(workloads.worker_pods(kubectl, NAMESPACE, cluster)) == 1, 300, "the extra Pods to go", 2
    )
    down = time.time() - light.started if gone else float("nan")
    time.sleep(10)  # one more 10-s line of the light load, with the Pods gone
    answered, failed = light.so_far()
    kubectl("delete", "job", "load-trickle", "-n", NAMESPACE, "--wait=false")
    rows.append("")
    rows.append("autoscaling, 8 clients for 150 s, then 1 client until the extra Pods went:")
    for count in sorted(ready_at):
        if count > 1:
            rows.append(f"  {count} worker Pods Ready {ready_at[count]:.0f} s after the load started")
    rows.append(
        f"  throughput above 1.15x one replica's from the window ending {higher} s"
        if higher
        else "  throughput never rose above 1.15x"
    )
    rows.append(f"  under load: {_stats(burst)}")
    rows.append(f"  back to one worker Pod {down:.0f} s after the light load started")
    rows.append(f"  light load while scaling down: {answered} requests answered, {failed} failed")
    # Model update in place, then a cluster upgrade, each under load.
    update = Load(kubectl, "load-update", SECONDS="60", CONCURRENCY="4")
    time.sleep(10)
    _serve_config(kubectl, lambda deployment: deployment["user_config"].update(release="2"))
    updated = update.wait()
    rows.append(
        f"model update (user_config, in place): {_stats(updated)}; releases answered {updated['releases']}"
    )
    upgrade = Load(kubectl, "load-upgrade", SECONDS="240", CONCURRENCY="4")
    time.sleep(10)
    patched = time.time()
    change = [
        {
            "op": "add",
            "path": "/spec/rayClusterConfig/workerGroupSpecs/0/template/metadata",
            "value": {"labels": {"release": "2"}},
        }
    ]
    kubectl("patch", "rayservice", "digits", "-n", NAMESPACE, "--type=json", "-p", json.dumps(change))
    wait_for(lambda: _active(kubectl) not in ("", cluster), 600, "the new cluster to take the traffic", 2)
    switched = time.time() - patched
    upgraded = upgrade.wait()
    rows.append(
        f"cluster upgrade (blue/green, traffic moved {switched:.0f} s after the change): {_stats(upgraded)}"
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="overhead,batch,serving")
    parser.add_argument(
        "--rows-repeat", type=int, default=100, help="copies of the 1,797 images for batch inference"
    )
    parser.add_argument("--seconds", type=int, default=40, help="load per replica count when serving")
    args = parser.parse_args()
    cluster = LocalCluster()
    cluster.up(say, operator=True)
    kubectl = Kubectl(cluster.kubeconfig, cluster.kubectl)
    if not kubectl("get", "namespace", NAMESPACE, "--ignore-not-found", "-o", "name").strip():
        kubectl("create", "namespace", NAMESPACE)
        wait_for(
            lambda: kubectl("get", "serviceaccount", "default", "-n", NAMESPACE, "-o", "name", check=False),
            30,
            "the default ServiceAccount",
        )
    report: list[str] = []
    parts = args.parts.split(",")
    if "overhead" in parts:
        report += [*overhead(kubectl, runtime_bin(cluster.layout)), ""]
    if not (MODELS / "model.pkl").exists():
        through_operator(kubectl, "9 trials")
    if "batch" in parts:
        report += [*batch(kubectl, args.rows_repeat), ""]
    if "serving" in parts:
        report += serving(kubectl, args.seconds)
    print("\n" + "\n".join(report))


if __name__ == "__main__":
    main()
