"""The RayJob controller on the local cluster, with real Ray jobs."""

from __future__ import annotations

import copy
import datetime
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.conftest import ROOT, Kubectl, wait_for
from e2e.ray_jobs import HEAD_ONLY, TASKS, submit_job, wait_job

SAMPLE = ROOT / "manifests" / "samples" / "rayjob.sample.yaml"


def rayjob(name: str, **spec: Any) -> dict[str, Any]:
    body = {"entrypoint": TASKS, "rayClusterSpec": copy.deepcopy(HEAD_ONLY), **spec}
    if "clusterSelector" in spec:
        del body["rayClusterSpec"]
    return {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": name}, "spec": body}


def get(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = kubectl.json("get", "rayjob", name, "-n", namespace)
    return result


def status(kubectl: Kubectl, namespace: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = get(kubectl, namespace, name).get("status") or {}
    return result


def wait_deployment(
    kubectl: Kubectl, namespace: str, name: str, wanted: str, timeout: float = 240
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        current = status(kubectl, namespace, name)
        return current if current.get("jobDeploymentStatus") == wanted else None

    result: dict[str, Any] = wait_for(reached, timeout, f"RayJob {name} to be {wanted}", interval=1)
    return result


def events(kubectl: Kubectl, namespace: str, name: str) -> list[str]:
    listing = kubectl.json("get", "events.events.k8s.io", "-n", namespace)["items"]
    return [e["reason"] for e in listing if e["regarding"]["name"] == name]


def exists(kubectl: Kubectl, namespace: str, kind: str, name: str) -> bool:
    return bool(
        kubectl("get", kind, name, "-n", namespace, "--ignore-not-found", "-o", "name", check=False).strip()
    )


def head_ip(kubectl: Kubectl, namespace: str, cluster: str) -> str:
    def ready() -> str | None:
        found = kubectl.json("get", "raycluster", cluster, "-n", namespace)
        state = found.get("status") or {}
        return state.get("head", {}).get("podIP") if state.get("state") == "ready" else None

    result: str = wait_for(ready, 180, f"RayCluster {cluster} to be ready", interval=2)
    return result


def test_sample_rayjob_completes_and_its_cluster_goes_after_the_ttl(
    kubectl: Kubectl, namespace: str, operator: Path
) -> None:
    documents = list(yaml.safe_load_all(SAMPLE.read_text()))
    documents[1]["spec"]["ttlSecondsAfterFinished"] = 8
    kubectl.apply(yaml.safe_dump_all(documents), namespace)
    seen = set()

    def complete() -> dict[str, Any] | None:
        current = status(kubectl, namespace, "rayjob-sample")
        seen.add(current.get("jobDeploymentStatus"))
        return current if current.get("jobDeploymentStatus") == "Complete" else None

    final = wait_for(complete, 300, "the sample RayJob to complete", interval=1)
    assert final["jobStatus"] == "SUCCEEDED"
    assert {"Initializing", "Running"} <= seen
    cluster = final["rayClusterName"]
    assert cluster.startswith("rayjob-sample-")
    assert len(cluster) == len("rayjob-sample-") + 5
    assert final["dashboardURL"] == f"{cluster}-head-svc.{namespace}.svc.cluster.local:8265"
    assert final["jobId"].startswith("rayjob-sample-")
    assert final["rayJobInfo"]["startTime"]
    assert final["rayJobInfo"]["endTime"]
    assert final["succeeded"] == 1
    # The submitter Job's log is the driver's output (`ray job logs --follow`).
    logs = kubectl("logs", "-n", namespace, "job/rayjob-sample")
    assert "sum of squares: 140" in logs
    assert "greeting: hello from raykopf" in logs
    assert exists(kubectl, namespace, "service", "rayjob-sample-head-svc")
    # The cluster stays for the TTL, then goes; the submitter Job stays (its logs remain readable).
    end = datetime.datetime.strptime(final["endTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    wait_for(lambda: not exists(kubectl, namespace, "raycluster", cluster), 60, "the cluster to be deleted")
    gone_at = datetime.datetime.now(datetime.UTC)
    assert (gone_at - end).total_seconds() >= 8 - 1
    assert exists(kubectl, namespace, "job", "rayjob-sample")
    reasons = events(kubectl, namespace, "rayjob-sample")
    for reason in ("CreatedRayCluster", "CreatedRayJobSubmitter", "Running", "Complete", "DeletedRayCluster"):
        assert reason in reasons


def test_http_sidecar_and_retrying_jobs_side_by_side(
    kubectl: Kubectl, namespace: str, operator: Path
) -> None:
    failing = "python -c \"import ray; ray.init(); raise ValueError('raykopf-boom')\""
    manifests = [
        rayjob("http", submissionMode="HTTPMode", runtimeEnvYAML="env_vars:\n  WHO: raykopf\n"),
        rayjob("sidecar", submissionMode="SidecarMode"),
        rayjob("retry", submissionMode="HTTPMode", entrypoint=failing, backoffLimit=1),
    ]
    kubectl.apply(yaml.safe_dump_all(manifests), namespace)
    for name in ("http", "sidecar"):
        done = wait_deployment(kubectl, namespace, name, "Complete", 300)
        assert done["jobStatus"] == "SUCCEEDED", done
    final = wait_deployment(kubectl, namespace, "retry", "Failed", 400)
    assert final["reason"] == "AppFailed"
    assert final["jobStatus"] == "FAILED"
    assert "raykopf-boom" in final["message"]
    assert final["failed"] == 2
    reasons = events(kubectl, namespace, "retry")
    assert "Retrying" in reasons
    assert reasons.count("CreatedRayCluster") == 2  # the retry ran on a new cluster
    # The first attempt's cluster was deleted before the retry; the last one stays (no shutdown policy).
    left = kubectl.json("get", "rayclusters", "-n", namespace, "-l", "ray.io/originated-from-cr-name=retry")
    assert [c["metadata"]["name"] for c in left["items"]] == [final["rayClusterName"]]
    # Sidecar: the submitter ran in the head Pod.
    sidecar_cluster = status(kubectl, namespace, "sidecar")["rayClusterName"]
    head = kubectl.json(
        "get", "pods", "-n", namespace, "-l", f"ray.io/cluster={sidecar_cluster},ray.io/node-type=head"
    )
    names = [c["name"] for c in head["items"][0]["spec"]["containers"]]
    assert names[-1] == "ray-job-submitter"
    assert "answer 42" in kubectl(
        "logs", "-n", namespace, head["items"][0]["metadata"]["name"], "-c", "ray-job-submitter"
    )


@pytest.mark.pod_network
def test_cluster_selector_interactive_mode_and_deleting_a_running_job(
    kubectl: Kubectl, namespace: str, operator: Path
) -> None:
    shared = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "shared"},
        "spec": HEAD_ONLY,
    }
    selector = {"ray.io/cluster": "shared"}
    kubectl.apply(json.dumps(shared), namespace)
    ip = head_ip(kubectl, namespace, "shared")
    kubectl.apply(
        yaml.safe_dump_all(
            [
                rayjob("on-shared", clusterSelector=selector),
                rayjob("interactive", clusterSelector=selector, submissionMode="InteractiveMode"),
            ]
        ),
        namespace,
    )
    done = wait_deployment(kubectl, namespace, "on-shared", "Complete")
    assert done["rayClusterName"] == "shared"
    assert done["jobStatus"] == "SUCCEEDED"
    # Interactive: waits for the user's job id, then follows that Ray job.
    wait_deployment(kubectl, namespace, "interactive", "Waiting")
    job_id = submit_job(ip, "python -c \"print('interactive')\"")
    patch = json.dumps({"spec": {"jobId": job_id}})
    kubectl("patch", "rayjob", "interactive", "-n", namespace, "--type=merge", "-p", patch)
    done = wait_deployment(kubectl, namespace, "interactive", "Complete")
    assert done["jobId"] == job_id
    assert done["jobStatus"] == "SUCCEEDED"
    # Deleting a RayJob whose Ray job runs stops that Ray job; the selected cluster stays.
    kubectl.apply(
        json.dumps(
            rayjob("long", clusterSelector=selector, submissionMode="HTTPMode", entrypoint="sleep 600")
        ),
        namespace,
    )
    running = wait_for(
        lambda: (s := status(kubectl, namespace, "long")).get("jobStatus") == "RUNNING" and s,
        120,
        "the long Ray job to run",
    )
    kubectl("delete", "rayjob", "long", "-n", namespace, "--wait=true", "--timeout=60s")
    final, _ = wait_job(ip, running["jobId"], 60)
    assert final == "STOPPED"
    assert exists(kubectl, namespace, "raycluster", "shared")


def test_deadline_suspend_resume_and_deletion(kubectl: Kubectl, namespace: str, operator: Path) -> None:
    kubectl.apply(
        yaml.safe_dump_all(
            [
                rayjob(
                    "deadline", submissionMode="HTTPMode", entrypoint="sleep 600", activeDeadlineSeconds=45
                ),
                rayjob(
                    "pausable",
                    submissionMode="HTTPMode",
                    entrypoint=f"sleep 20 && {TASKS}",
                    shutdownAfterJobFinishes=True,
                ),
            ]
        ),
        namespace,
    )
    wait_for(
        lambda: status(kubectl, namespace, "pausable").get("jobStatus") == "RUNNING", 240, "pausable to run"
    )
    first_cluster = status(kubectl, namespace, "pausable")["rayClusterName"]
    kubectl("patch", "rayjob", "pausable", "-n", namespace, "--type=merge", "-p", '{"spec":{"suspend":true}}')
    suspended = wait_deployment(kubectl, namespace, "pausable", "Suspended", 120)
    assert "jobStatus" not in suspended  # KubeRay leaves an empty jobStatus out
    assert not exists(kubectl, namespace, "raycluster", first_cluster)
    kubectl(
        "patch", "rayjob", "pausable", "-n", namespace, "--type=merge", "-p", '{"spec":{"suspend":false}}'
    )
    done = wait_deployment(kubectl, namespace, "pausable", "Complete", 300)
    assert done["jobStatus"] == "SUCCEEDED"
    assert done["rayClusterName"] != first_cluster

    failed = wait_deployment(kubectl, namespace, "deadline", "Failed", 300)
    assert failed["reason"] == "DeadlineExceeded"
    cluster = failed["rayClusterName"]
    # Deleting the RayJob removes its children (garbage collection of what it owns).
    kubectl("delete", "rayjob", "deadline", "-n", namespace, "--wait=true", "--timeout=60s")
    wait_for(lambda: not exists(kubectl, namespace, "raycluster", cluster), 90, "the RayJob's cluster to go")
    wait_for(
        lambda: not exists(kubectl, namespace, "service", "deadline-head-svc"),
        90,
        "the RayJob's Service to go",
    )


@pytest.mark.invalid_objects
def test_invalid_rayjob_is_validation_failed(kubectl: Kubectl, namespace: str, operator: Path) -> None:
    bad = rayjob("bad", shutdownAfterJobFinishes=False, ttlSecondsAfterFinished=10)
    kubectl.apply(json.dumps(bad), namespace)
    failed = wait_deployment(kubectl, namespace, "bad", "ValidationFailed", 60)
    assert failed["reason"] == "ValidationFailed"
    assert "TTLSecondsAfterFinished" in failed["message"]
    assert "InvalidRayJobSpec" in events(kubectl, namespace, "bad")
    assert not kubectl("get", "rayclusters", "-n", namespace, "-o", "name").strip()
