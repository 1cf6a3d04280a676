"""The operator installed into the cluster: `helm install` and `kubectl apply -k`, the operator
as a Pod under the chart's ServiceAccount and RBAC only, the Lease, metrics, upgrade and uninstall."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from tests.unit.runtime.test_serving import dashboard_metrics

from e2e.conftest import ROOT, Helm, Kubectl, create_namespace, wait_for
from e2e.installed import CHART, SELECTOR, lease_holder, log_of, operator_pods, wait_operators_ready

RAYJOB = ROOT / "manifests" / "samples" / "rayjob.sample.yaml"
RAYCLUSTER = ROOT / "manifests" / "samples" / "raycluster.sample.yaml"


def wait_cluster_ready(kubectl: Kubectl, namespace: str, name: str, timeout: float = 180) -> dict[str, Any]:
    def is_ready() -> dict[str, Any] | None:
        body: dict[str, Any] = kubectl.json("get", "raycluster", name, "-n", namespace)
        return body if (body.get("status") or {}).get("state") == "ready" else None

    result: dict[str, Any] = wait_for(is_ready, timeout, f"RayCluster {name} to be ready", interval=2)
    return result


def pod_uids(kubectl: Kubectl, namespace: str, cluster: str) -> set[str]:
    pods = kubectl.json("get", "pods", "-n", namespace, "-l", f"ray.io/cluster={cluster}")["items"]
    return {p["metadata"]["uid"] for p in pods}


def scrape(kubectl: Kubectl, namespace: str) -> str:
    return scrape_pod(
        kubectl.json("get", "service", "raykopf-operator", "-n", namespace)["spec"]["clusterIP"]
    )


def scrape_pod(ip: str) -> str:
    try:
        with urllib.request.urlopen(f"http://{ip}:8080/metrics", timeout=5) as response:
            return str(response.read().decode())
    except OSError:
        return ""


def test_helm_install_leads_reconciles_hands_over_upgrades_and_uninstalls(
    kubectl: Kubectl, helm: Helm, release_namespace: str, namespace: str
) -> None:
    ns = release_namespace
    helm("install", "raykopf", str(CHART), "-n", ns, "--set", "replicas=2")
    pods = wait_operators_ready(kubectl, ns, 2)
    for pod in pods:
        assert pod["spec"]["serviceAccountName"] == "raykopf-operator"
        assert pod["spec"]["containers"][0]["image"] == "localhost/raykopf/operator:0.1.0"
    wait_for(lambda: lease_holder(kubectl, ns) in {p["metadata"]["name"] for p in pods}, 30, "a leader")
    leader = lease_holder(kubectl, ns)
    standby = next(p["metadata"]["name"] for p in pods if p["metadata"]["name"] != leader)

    # The sample RayJob, reconciled by the leader alone, with the chart's RBAC only.
    kubectl("apply", "-n", namespace, "-f", str(RAYJOB))

    def succeeded() -> dict[str, Any] | None:
        status = kubectl.json("get", "rayjob", "rayjob-sample", "-n", namespace).get("status") or {}
        return status if status.get("jobDeploymentStatus") == "Complete" else None

    final = wait_for(succeeded, 300, "the sample RayJob to complete", interval=2)
    assert final["jobStatus"] == "SUCCEEDED"
    # Only the leader reconciles: the standby's own metrics count no reconcile at all.
    by_name = {p["metadata"]["name"]: p["status"]["podIP"] for p in pods}
    assert 'raykopf_reconcile_total{kind="RayJob",result="' in scrape_pod(by_name[leader])
    assert "raykopf_reconcile_total{" not in scrape_pod(by_name[standby])
    # Nothing it does is refused by the chart's RBAC (a namespace of an earlier test that is still being
    # deleted refuses new objects with a Forbidden too, but not for RBAC: "is forbidden: User ...").
    assert "is forbidden: User" not in log_of(kubectl, ns, leader)

    # Metrics with KubeRay's names.
    text = wait_for(
        lambda: (t := scrape(kubectl, ns)) and 'kuberay_job_info{name="rayjob-sample"' in t and t,
        30,
        "the RayJob's metrics",
    )
    assert (
        f'kuberay_job_deployment_status{{deployment_status="Complete",name="rayjob-sample",namespace="{namespace}"'
        in text
    )
    assert "raykopf_reconcile_total" in text

    # A RayCluster that must outlive every operator change below.
    kubectl("apply", "-n", namespace, "-f", str(RAYCLUSTER))
    wait_cluster_ready(kubectl, namespace, "raycluster-sample")
    uids = pod_uids(kubectl, namespace, "raycluster-sample")
    assert len(uids) == 2
    # Every metric the chart's Grafana dashboard queries is served by the leader (RayService panels
    # aside: no RayService here), by the names KubeRay's operator uses. The Service may route a scrape
    # to the standby, which, like a controller-runtime standby, has no controller series.
    wanted = {name for name in dashboard_metrics() if not name.startswith("kuberay_service_")}

    def missing() -> list[str]:
        text = scrape_pod(by_name[leader])
        served = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}
        return sorted(wanted - served)

    wait_for(lambda: not missing(), 30, "every metric the dashboard queries on the leader")

    # Deleting the leader's Pod hands the Lease over within the lease duration (15 s); the new leader
    # reconciles nothing twice: one cluster and one submitter ever created for the RayJob.
    # (The standby or the Pod replacing the deleted one, whichever asks first once the Lease is released.)
    kubectl("delete", "pod", leader, "-n", ns, "--wait=false")
    started = time.monotonic()

    def new_leader() -> str | None:
        holder = lease_holder(kubectl, ns)
        live = {p["metadata"]["name"] for p in operator_pods(kubectl, ns)}
        return holder if holder != leader and holder in live else None

    wait_for(new_leader, 20, "another operator Pod to take the Lease", interval=0.5)
    handover = time.monotonic() - started
    print(f"Lease handed over in {handover:.1f} s")
    assert handover < 15
    wait_operators_ready(kubectl, ns, 2)
    listing = kubectl.json("get", "events.events.k8s.io", "-n", namespace)["items"]
    created = [e["reason"] for e in listing if e["regarding"]["name"] == "rayjob-sample"]
    assert created.count("CreatedRayCluster") == 1
    assert created.count("CreatedRayJobSubmitter") == 1
    assert (
        kubectl.json("get", "rayjob", "rayjob-sample", "-n", namespace)["status"]["jobStatus"] == "SUCCEEDED"
    )

    # helm upgrade changes a value; running clusters are not disturbed.
    helm("upgrade", "raykopf", str(CHART), "-n", ns, "--set", "replicas=1", "--set", "reconcileConcurrency=4")
    (pod,) = wait_operators_ready(kubectl, ns, 1)
    assert "--reconcile-concurrency=4" in pod["spec"]["containers"][0]["args"]
    wait_for(lambda: lease_holder(kubectl, ns) == pod["metadata"]["name"], 30, "the upgraded Pod to lead")
    assert wait_cluster_ready(kubectl, namespace, "raycluster-sample")["status"]["readyWorkerReplicas"] == 1
    assert pod_uids(kubectl, namespace, "raycluster-sample") == uids

    # helm uninstall removes the operator and leaves users' objects and their Pods alone.
    helm("uninstall", "raykopf", "-n", ns, "--wait")
    wait_for(lambda: not operator_pods(kubectl, ns), 60, "the operator Pods to go")
    assert kubectl("get", "deployment", "-n", ns, "-o", "name").strip() == ""
    assert pod_uids(kubectl, namespace, "raycluster-sample") == uids
    assert (
        kubectl.json("get", "raycluster", "raycluster-sample", "-n", namespace)["status"]["state"] == "ready"
    )
    assert kubectl("get", "crd", "rayclusters.ray.io", "-o", "name").strip()


def test_single_namespace_install_ignores_other_namespaces(
    kubectl: Kubectl, helm: Helm, release_namespace: str, namespace: str
) -> None:
    ns = release_namespace
    other = f"{namespace}-other"
    create_namespace(kubectl, other)
    try:
        helm(
            "install", "raykopf", str(CHART), "-n", ns,
            "--set", "singleNamespaceInstall=true", "--set", f"watchNamespace={{{namespace}}}",
        )  # fmt: skip
        wait_operators_ready(kubectl, ns, 1)
        account = f"system:serviceaccount:{ns}:raykopf-operator"
        assert kubectl("auth", "can-i", "create", "pods", "-n", namespace, f"--as={account}").strip() == "yes"
        assert (
            kubectl("auth", "can-i", "create", "pods", "-n", other, f"--as={account}", check=False).strip()
            == "no"
        )
        assert kubectl("auth", "can-i", "list", "pods", "-A", f"--as={account}", check=False).strip() == "no"
        for target in (namespace, other):
            kubectl("apply", "-n", target, "-f", str(RAYCLUSTER))
        wait_cluster_ready(kubectl, namespace, "raycluster-sample")
        ignored = kubectl.json("get", "raycluster", "raycluster-sample", "-n", other)
        assert not ignored.get("status")
        assert kubectl("get", "pods", "-n", other, "-o", "name").strip() == ""
        helm("uninstall", "raykopf", "-n", ns, "--wait")
    finally:
        kubectl("delete", "namespace", other, "--wait=false", check=False)


def test_kubectl_apply_k_gives_the_same_working_operator(
    kubectl: Kubectl, namespace: str, no_host_operator: None
) -> None:
    kubectl("apply", "-k", str(ROOT / "manifests"))
    try:
        wait_operators_ready(kubectl, "raykopf-system", 1)
        kubectl("apply", "-n", namespace, "-f", str(RAYCLUSTER))
        cluster = wait_cluster_ready(kubectl, namespace, "raycluster-sample")
        assert cluster["status"]["readyWorkerReplicas"] == 1
        text = wait_for(lambda: scrape(kubectl, "raykopf-system"), 30, "the metrics endpoint")
        assert (
            f'kuberay_cluster_info{{name="raycluster-sample",namespace="{namespace}",owner_kind="None"'
            in text
        )
        assert (
            f'kuberay_cluster_condition_provisioned{{condition="true",name="raycluster-sample",namespace="{namespace}"'
            in text
        )
    finally:
        # The operator goes; the CRDs stay (deleting them would delete every user's objects).
        kubectl(
            "delete", "-f", str(ROOT / "manifests" / "install" / "operator.yaml"), "--wait=true", check=False
        )
        kubectl(
            "delete", "namespace", "raykopf-system", "--wait=true", "--timeout=120s", check=False, timeout=150
        )
    assert (
        json.loads(kubectl("get", "crd", "rayjobs.ray.io", "-o", "json"))["metadata"]["name"]
        == "rayjobs.ray.io"
    )
    assert len(pod_uids(kubectl, namespace, "raycluster-sample")) == 2  # users' clusters stay


# One test of each kind for the suite run against a cluster named by its kubeconfig: two that run
# there (one reading the installed operator's log), one that reaches Pod IPs, two of the local cluster.
ELSEWHERE = {
    "e2e/test_rayjob.py::test_invalid_rayjob_is_validation_failed": "passed",
    "e2e/test_raycluster.py::test_an_invalid_raycluster_gets_a_warning_and_does_not_block_others": "passed",
    "e2e/test_raycluster.py::test_sample_raycluster_becomes_ready_and_scales": "skipped",
    "e2e/test_local_cluster.py::test_printer_columns_show_in_kubectl_get": "skipped",
    "e2e/test_hostile.py::test_refused_creates_are_said_on_the_status_and_taken_back_once_they_work": "skipped",
}


def test_the_suite_runs_against_a_cluster_given_by_kubeconfig_with_the_chart_installed_operator(
    kubectl: Kubectl, helm: Helm, release_namespace: str, tmp_path: Path
) -> None:
    """`make e2e KUBECONFIG=...` as on kind: the local cluster treated as any cluster, the operator
    the chart installed, no fixture of the local cluster used (the host's operator is stopped)."""
    # The two tests that apply invalid objects see the operator report them only without the webhook
    # (with it, they are skipped: the next run below).
    helm("install", "raykopf", str(CHART), "-n", release_namespace, "--set", "webhook.enabled=false")
    wait_operators_ready(kubectl, release_namespace, 1)
    result, outcomes = suite_elsewhere(kubectl, tmp_path / "report.xml", list(ELSEWHERE))
    assert outcomes == ELSEWHERE, result.stdout[-4000:]
    # Each skip says why.
    assert "reaches Pod or Service IPs from the test process" in result.stdout
    assert "local cluster only: tests of the local cluster itself" in result.stdout
    assert (
        "local cluster only: it runs, stops or restarts the operator as a process on the host"
        in result.stdout
    )
    # The installed operator did the work.
    log = kubectl("logs", "-n", release_namespace, "-l", SELECTOR, "--tail=-1")
    assert '"msg": "invalid RayJob"' in log
    assert '"msg": "invalid RayCluster"' in log

    # With the chart's default, its webhook refuses those objects first: the two tests say so and skip.
    helm("upgrade", "raykopf", str(CHART), "-n", release_namespace, "--reset-values")
    wait_operators_ready(kubectl, release_namespace, 1)
    invalid = [name for name in ELSEWHERE if "invalid" in name]
    result, outcomes = suite_elsewhere(kubectl, tmp_path / "webhook.xml", invalid)
    assert outcomes == dict.fromkeys(invalid, "skipped"), result.stdout[-4000:]
    assert "raykopf admission webhook refuses invalid objects before the operator" in result.stdout


def suite_elsewhere(
    kubectl: Kubectl, report: Path, tests: list[str]
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """The e2e tests given, run as `make e2e KUBECONFIG=...` runs them; their JUnit outcomes."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", f"--junitxml={report}", *tests],
        cwd=ROOT,
        env={
            **os.environ,
            "RAYKOPF_E2E_KUBECONFIG": str(kubectl.kubeconfig),
            "RAYKOPF_E2E_KUBECTL": str(kubectl.binary),
        },
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result, junit_outcomes(report)


def junit_outcomes(report: Path) -> dict[str, str]:
    """`path::test` -> passed, skipped or failed, from pytest's JUnit XML report."""
    outcomes = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/") + ".py"
        if case.find("skipped") is not None:
            outcome = "skipped"
        elif case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        else:
            outcome = "passed"
        outcomes[f"{module}::{case.get('name')}"] = outcome
    return outcomes
