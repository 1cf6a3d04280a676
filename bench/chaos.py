"""Chaos: RayClusters, RayJobs and RayServices under churn while the operator is SIGKILLed again and
again, kube-apiserver and etcd are restarted and Pods are deleted; then, checked from the apiserver,
whether everything converged: exact Pods, no duplicates, no orphans, terminal RayJobs, no finalizer
left on a deleted object.

    python -m bench.chaos [--minutes 6] [--kills 20] [--seed 1] [--clusters 100 --rayjobs 20 --rayservices 5]

Runs on the local cluster's simulated node (no Ray: a RayJob ends by its `activeDeadlineSeconds`, a
RayService keeps its first cluster pending). Prints the faults survived and what the final check
found, and how long after the last fault everything had converged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from bench.harness import (
    Operator,
    create_namespace,
    delete_namespace,
    ensure_cluster,
    pod_template,
    raycluster,
    say,
)
from raykopf.k8s.client import ApiError, KubeClient
from raykopf_local.cluster import LocalCluster

NAMESPACE = "bench-chaos"
RAY = f"/apis/ray.io/v1/namespaces/{NAMESPACE}"
PODS = f"/api/v1/namespaces/{NAMESPACE}/pods"
TERMINAL = ("Complete", "Failed")
# A request may fail while kube-apiserver or etcd restarts: the churn goes on.
TRANSIENT = (ApiError, aiohttp.ClientError, OSError, TimeoutError)
JOB_DEADLINE = 60


def cluster_spec(workers: int) -> dict[str, Any]:
    return raycluster("x", NAMESPACE, workers)["spec"]


def rayjob(name: str, shutdown: bool) -> dict[str, Any]:
    submitter = pod_template("submitter")
    submitter["spec"]["restartPolicy"] = "Never"
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "entrypoint": "python -c 'print(1)'",
            "rayClusterSpec": cluster_spec(1),
            "submitterPodTemplate": submitter,
            "activeDeadlineSeconds": JOB_DEADLINE,  # nothing runs on the simulated node: this ends it
            "shutdownAfterJobFinishes": shutdown,
        },
    }


def rayservice(name: str, version: int = 0) -> dict[str, Any]:
    serve = f"applications:\n- name: app{version}\n  import_path: app:app\n  route_prefix: /\n"
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"serveConfigV2": serve, "rayClusterConfig": cluster_spec(0)},
    }


async def items(client: KubeClient, path: str) -> list[dict[str, Any]]:
    return list((await client.request("GET", path)).get("items") or [])


async def json_patch(client: KubeClient, path: str, operations: list[dict[str, Any]]) -> None:
    await client.request("PATCH", path, body=operations, content_type="application/json-patch+json")


class Churn:
    """One random change per call: scale, workersToDelete, suspend/resume, delete and re-create,
    a RayService's Serve config, a Pod deleted."""

    def __init__(self, client: KubeClient, rng: random.Random, args: argparse.Namespace) -> None:
        self.client, self.rng = client, rng
        self.clusters = [f"rc-{i}" for i in range(args.clusters)]
        self.rayjobs = [f"job-{i}" for i in range(args.rayjobs)]
        self.rayservices = [f"svc-{i}" for i in range(args.rayservices)]
        self.recreate: list[dict[str, Any]] = []
        self.generation = 0
        self.done: Counter[str] = Counter()

    async def create_all(self) -> None:
        bodies = [raycluster(n, NAMESPACE, self.rng.randint(0, 3)) for n in self.clusters]
        bodies += [rayjob(n, shutdown=i % 2 == 0) for i, n in enumerate(self.rayjobs)]
        bodies += [rayservice(n) for n in self.rayservices]
        for body in bodies:
            await self.client.create(f"{RAY}/{body['kind'].lower()}s", body)

    async def step(self) -> None:
        if self.recreate and self.rng.random() < 0.5:
            body = self.recreate.pop(0)
            await self.client.create(f"{RAY}/{body['kind'].lower()}s", body)
            self.done["re-create"] += 1
            return
        action = self.rng.choice(
            ["scale", "scale", "scale", "workersToDelete", "suspend", "delete", "pod", "pod", "job", "serve"]
        )
        name = self.rng.choice(self.clusters)
        path = f"{RAY}/rayclusters/{name}"
        if action == "scale":
            replicas = self.rng.randint(0, 3)
            await json_patch(self.client, path, [_replace("/spec/workerGroupSpecs/0/replicas", replicas)])
        elif action == "workersToDelete":
            workers = await items(
                self.client, f"{PODS}?labelSelector=ray.io/cluster={name},ray.io/node-type=worker"
            )
            cluster = await self.client.get(path)
            if not workers or cluster is None:
                return
            replicas = cluster["spec"]["workerGroupSpecs"][0].get("replicas") or 0
            victim = self.rng.choice(workers)["metadata"]["name"]
            await json_patch(
                self.client,
                path,
                [
                    _replace("/spec/workerGroupSpecs/0/replicas", max(replicas - 1, 0)),
                    {
                        "op": "add",
                        "path": "/spec/workerGroupSpecs/0/scaleStrategy",
                        "value": {"workersToDelete": [victim]},
                    },
                ],
            )
        elif action == "suspend":
            cluster = await self.client.get(path)
            if cluster is None:
                return
            await json_patch(
                self.client,
                path,
                [{"op": "add", "path": "/spec/suspend", "value": not cluster["spec"].get("suspend")}],
            )
        elif action == "delete":
            cluster = await self.client.get(path)
            if cluster is None or cluster["metadata"].get("deletionTimestamp"):
                return
            await self.client.delete(path)
            self.recreate.append(raycluster(name, NAMESPACE, self.rng.randint(0, 3)))
        elif action == "pod":
            pods = await items(self.client, f"{PODS}?labelSelector=ray.io/is-ray-node=yes")
            if not pods:
                return
            await self.client.delete(f"{PODS}/{self.rng.choice(pods)['metadata']['name']}")
        elif action == "job":
            self.generation += 1
            old = self.rng.choice(self.rayjobs)
            await self.client.delete(f"{RAY}/rayjobs/{old}")
            new = f"job-g{self.generation}"
            self.rayjobs[self.rayjobs.index(old)] = new
            self.recreate.append(rayjob(new, shutdown=self.rng.random() < 0.5))
        elif action == "serve":
            self.generation += 1
            svc = self.rng.choice(self.rayservices)
            serve = rayservice(svc, self.generation)["spec"]["serveConfigV2"]
            await json_patch(
                self.client, f"{RAY}/rayservices/{svc}", [_replace("/spec/serveConfigV2", serve)]
            )
        self.done[action] += 1


def _replace(path: str, value: Any) -> dict[str, Any]:
    return {"op": "replace", "path": path, "value": value}


async def check(client: KubeClient) -> dict[str, list[str]]:
    """What is wrong now, as seen from the apiserver (empty lists: converged)."""
    clusters = await items(client, f"{RAY}/rayclusters")
    rayjobs = await items(client, f"{RAY}/rayjobs")
    rayservices = await items(client, f"{RAY}/rayservices")
    pods = await items(client, PODS)
    services = await items(client, f"/api/v1/namespaces/{NAMESPACE}/services")
    jobs = await items(client, f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs")
    found: dict[str, list[str]] = {
        "wrong Pods": [],
        "duplicate Pods": [],
        "orphans": [],
        "clusters without owner": [],
        "RayJobs not terminal": [],
        "stuck deleting": [],
    }
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    for cluster in clusters:
        meta, spec = cluster["metadata"], cluster["spec"]
        if meta.get("deletionTimestamp"):
            continue
        mine = [p for p in live if (p["metadata"].get("labels") or {}).get("ray.io/cluster") == meta["name"]]
        kinds = Counter((p["metadata"].get("labels") or {}).get("ray.io/node-type") for p in mine)
        want = (
            Counter()
            if spec.get("suspend")
            else Counter(
                {"head": 1, "worker": sum(g.get("replicas") or 0 for g in spec.get("workerGroupSpecs") or [])}
            )
        )
        want = +want
        if +kinds != want:
            found["wrong Pods"].append(f"{meta['name']}: {dict(kinds)} (want {dict(want)})")
        if kinds["head"] > 1 or kinds["worker"] > want["worker"]:
            found["duplicate Pods"].append(f"{meta['name']}: {dict(kinds)}")
    uids = {o["metadata"]["uid"] for o in (*clusters, *rayjobs, *rayservices, *jobs)}
    for child in (*pods, *services, *jobs, *clusters):
        refs = child["metadata"].get("ownerReferences") or []
        going = child["metadata"].get("deletionTimestamp")  # the garbage collector is at it
        if refs and not going and not any(r["uid"] in uids for r in refs):
            found["orphans"].append(f"{child.get('kind', 'Pod')} {child['metadata']['name']}")
    for cluster in clusters:
        labels = cluster["metadata"].get("labels") or {}
        if labels.get("ray.io/originated-from-crd") in ("RayJob", "RayService") and not (
            cluster["metadata"].get("ownerReferences")
        ):
            found["clusters without owner"].append(cluster["metadata"]["name"])
    for job in rayjobs:
        if (job.get("status") or {}).get("jobDeploymentStatus") not in TERMINAL:
            found["RayJobs not terminal"].append(
                f"{job['metadata']['name']}: {(job.get('status') or {}).get('jobDeploymentStatus')}"
            )
    for obj in (*clusters, *rayjobs, *rayservices):
        if obj["metadata"].get("deletionTimestamp"):
            found["stuck deleting"].append(
                f"{obj['kind']} {obj['metadata']['name']}: {obj['metadata'].get('finalizers')}"
            )
    return found


def restart(cluster: LocalCluster, component: str) -> float:
    """Stop one control-plane process and start it again; seconds until the control plane answers."""
    started = time.monotonic()
    cluster.processes.stop(component, grace=5)
    cluster.control_plane.start()
    cluster.control_plane.wait_ready()
    return time.monotonic() - started


async def main(args: argparse.Namespace, kubeconfig: Path) -> dict[str, Any]:
    rng = random.Random(args.seed)
    local = LocalCluster()
    client = KubeClient.from_kubeconfig(kubeconfig)
    operator = Operator(kubeconfig, 10, Path(args.log))
    churn = Churn(client, rng, args)
    try:
        with_retries = 0
        await create_namespace(client, NAMESPACE)
        operator.start()
        await churn.create_all()
        say(f"created {args.clusters} RayClusters, {args.rayjobs} RayJobs, {args.rayservices} RayServices")
        length = args.minutes * 60
        start = time.monotonic()
        kills = sorted(rng.uniform(5, length - 10) for _ in range(args.kills))
        restarts = {
            "kube-apiserver": rng.uniform(length * 0.3, length * 0.4),
            "etcd": rng.uniform(length * 0.6, length * 0.7),
        }
        killed, restarted = 0, {}
        last_fault = start
        while time.monotonic() - start < length:
            elapsed = time.monotonic() - start
            if kills and elapsed >= kills[0]:
                kills.pop(0)
                assert operator.process is not None
                operator.process.kill()  # SIGKILL: no Lease release, nothing flushed
                operator.process.wait()
                await asyncio.sleep(rng.uniform(0, 2))
                operator.start()
                killed += 1
                last_fault = time.monotonic()
            for component, at in list(restarts.items()):
                if elapsed >= at:
                    del restarts[component]
                    seconds = await asyncio.to_thread(restart, local, component)
                    restarted[component] = seconds
                    say(f"restarted {component} ({seconds:.1f} s)")
                    last_fault = time.monotonic()
            try:
                await churn.step()
            except TRANSIENT:
                with_retries += 1
            await asyncio.sleep(args.interval)
        while churn.recreate:  # what was deleted to be made again is made again
            try:
                await churn.step()
            except TRANSIENT:
                await asyncio.sleep(1)
        say(f"churn over: {dict(churn.done)}; {killed} kills; waiting for convergence")
        churn_end = time.monotonic()
        found: dict[str, list[str]] = {}
        at_churn_end: dict[str, int] | None = None
        while time.monotonic() - churn_end < args.converge:
            try:
                found = await check(client)
            except TRANSIENT:
                found = {"unreadable": ["the apiserver did not answer"]}
            if at_churn_end is None:
                at_churn_end = {what: len(problems) for what, problems in found.items() if problems}
            if not any(found.values()):
                break
            await asyncio.sleep(2)
        converged = time.monotonic() - last_fault if not any(found.values()) else None
        alive = operator.process is not None and operator.process.poll() is None
        return {
            "kills": killed,
            "restarts": restarted,
            "churn": dict(churn.done),
            "failed churn requests": with_retries,
            "found": found,
            "at churn end": at_churn_end or {},
            "converged": converged,
            "churn end to converged": time.monotonic() - churn_end,
            "operator alive": alive,
        }
    finally:
        operator.stop()
        if not args.keep:
            for kind in ("rayclusters", "rayjobs", "rayservices"):
                for obj in await items(client, f"{RAY}/{kind}"):
                    if obj["metadata"].get("finalizers"):
                        patch = {"metadata": {"finalizers": None}}
                        await client.merge_patch(f"{RAY}/{kind}/{obj['metadata']['name']}", patch)
            await delete_namespace(client, NAMESPACE)
        await client.close()


def report(result: dict[str, Any]) -> None:
    found = result["found"]
    print()
    print("| what | figure |")
    print("|---|---|")
    print(
        f"| operator SIGKILLed and restarted | {result['kills']} (alive at the end: {result['operator alive']}) |"
    )
    for component, seconds in result["restarts"].items():
        print(f"| {component} restarted | back in {seconds:.1f} s |")
    print(
        f"| changes made | {sum(result['churn'].values())} ({', '.join(f'{k} {v}' for k, v in sorted(result['churn'].items()))}) |"
    )
    print(f"| not yet converged when the churn ended | {result['at churn end']} |")
    for what, problems in found.items():
        print(f"| {what} (at the end) | {len(problems)} |")
    converged = result["converged"]
    print(
        f"| converged after the last fault | {'not within the limit' if converged is None else f'{converged:.0f} s'} |"
    )
    for what, problems in found.items():
        for problem in problems[:10]:
            print(f"  {what}: {problem}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=6, help="how long the churn and the faults go on")
    parser.add_argument("--kills", type=int, default=20, help="operator SIGKILLs during the churn")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--rayjobs", type=int, default=20)
    parser.add_argument("--rayservices", type=int, default=5)
    parser.add_argument("--interval", type=float, default=0.3, help="seconds between two changes")
    parser.add_argument(
        "--converge", type=float, default=300, help="seconds allowed to converge after the churn"
    )
    parser.add_argument("--log", default="/tmp/raykopf-chaos-operator.log")
    parser.add_argument("--keep", action="store_true", help="leave the namespace for inspection")
    arguments = parser.parse_args()
    result = asyncio.run(main(arguments, ensure_cluster()))
    report(result)
    print(
        json.dumps(
            {k: v for k, v in result.items() if k != "found"}
            | {"problems": {k: len(v) for k, v in result["found"].items()}}
        )
    )
