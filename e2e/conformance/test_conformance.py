"""Differential conformance: the same objects applied under KubeRay's own operator and under raykopf,
on the same apiserver at once, and everything each operator made of them compared field by field.

Every difference must be fixed or declared in `differences.yaml` with its reason; the test prints a
summary table and fails on any undeclared difference, and on any declared one that no case shows.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.conformance.cases import Case, all_cases
from e2e.conformance.compare import (
    CREATED_KINDS,
    CaseResult,
    Declared,
    Difference,
    classify,
    compare_case,
    load_declared,
    side,
)
from e2e.conformance.flows import flows
from e2e.conformance.real_ray import (
    finished,
    greeting_patch,
    real_ray_cases,
    real_rayservice_case,
    serving_on_every_pod,
)
from e2e.conftest import RAY_KINDS, HostOperator, Kubectl, create_namespace, drop_ray_finalizers, wait_for
from e2e.serve_traffic import greet
from raykopf_local import kuberay
from raykopf_local.cluster import LocalCluster

SETTLE_POLLS = 3  # unchanged on both sides for this many polls in a row
POLL_INTERVAL = 2.0
SETTLE_TIMEOUT = 180.0
MIN_AGE = 15.0  # let both operators have a few passes even when nothing seems to change
LAG_GRACE = 150.0  # how long a RayJob its operator has yet to move on keeps a case unsettled


@dataclass
class Slot:
    """One namespace per operator holding cases whose supporting objects do not collide."""

    index: int
    cases: list[Case]

    @property
    def kuberay(self) -> str:
        return f"conformance-kuberay-{self.index}"

    @property
    def raykopf(self) -> str:
        return f"conformance-raykopf-{self.index}"


def pack(cases: list[Case]) -> list[Slot]:
    slots: list[tuple[Slot, set[tuple[str, str]]]] = []
    for case in cases:
        names = {(doc["kind"], doc["metadata"]["name"]) for doc in case.supporting}
        for slot, taken in slots:
            if not names & taken:
                slot.cases.append(case)
                taken |= names
                break
        else:
            slots.append((Slot(len(slots) + 1, [case]), set(names)))
    return [slot for slot, _ in slots]


def say(line: str) -> None:
    print(f"[kuberay] {line}", file=sys.stderr, flush=True)


@pytest.fixture(scope="module")
def ours(local_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> HostOperator:
    """The suite's raykopf (started by `slots`, for the raykopf side's namespaces only)."""
    return HostOperator(local_cluster.kubeconfig, tmp_path_factory.mktemp("conformance") / "raykopf.log")


@pytest.fixture(scope="module")
def slots(
    local_cluster: LocalCluster, kubectl: Kubectl, host_operator: HostOperator, ours: HostOperator
) -> Iterator[list[Slot]]:
    cases = [*all_cases(), *(flow.case for flow in flows())]
    packed = pack(cases)
    for slot in packed:
        for namespace in (slot.kuberay, slot.raykopf):
            remove_namespace(kubectl, namespace)
            create_namespace(kubectl, namespace)
    host_operator.stop()  # it watches every namespace; the suite's raykopf owns only its own
    ours.extra = ["--watch-namespace", ",".join(slot.raykopf for slot in packed)]
    ours.start()
    local_cluster.start_kuberay(say, [slot.kuberay for slot in packed])
    try:
        yield packed
    finally:
        for slot in packed:
            for namespace in (slot.kuberay, slot.raykopf):
                kubectl("delete", RAY_KINDS, "--all", "-n", namespace, "--wait=false", check=False)
        local_cluster.stop_kuberay()
        ours.stop()
        for slot in packed:
            for namespace in (slot.kuberay, slot.raykopf):
                remove_namespace(kubectl, namespace, wait=False)


def remove_namespace(kubectl: Kubectl, namespace: str, *, wait: bool = True) -> None:
    """Delete a namespace of the suite even with no operator left to finish its objects: the GCS FT
    clean-up Jobs of simulated clusters never end, so their finalizers are dropped by hand."""
    kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=false")
    drop_ray_finalizers(kubectl, namespace)
    if wait:
        kubectl("wait", "--for=delete", f"namespace/{namespace}", "--timeout=120s", check=False, timeout=150)


def clear(kubectl: Kubectl, slots: list[Slot]) -> None:
    """Delete every case of both sides and wait until their Ray Pods are gone."""
    namespaces = [namespace for slot in slots for namespace in (slot.kuberay, slot.raykopf)]
    for namespace in namespaces:
        kubectl("delete", RAY_KINDS, "--all", "-n", namespace, "--wait=false", check=False)
    for namespace in namespaces:
        drop_ray_finalizers(kubectl, namespace)

    def gone() -> bool:
        left = [
            namespace
            for namespace in namespaces
            if kubectl("get", "pods", "-n", namespace, "-l", "ray.io/is-ray-node=yes", "-o", "name").strip()
        ]
        # An operator may have put a finalizer back on a RayCluster that its RayJob or RayService
        # deleted only afterwards (KubeRay's GCS FT clean-up, which never ends on simulated Pods).
        for namespace in left:
            drop_ray_finalizers(kubectl, namespace)
        return not left

    wait_for(gone, 180, "the earlier cases' Ray Pods to go", interval=3)


def apply_cases(kubectl: Kubectl, slot: Slot) -> None:
    cluster_scoped = [doc for case in slot.cases for doc in case.cluster_scoped]
    if cluster_scoped:
        kubectl("apply", "-f", "-", input=yaml.safe_dump_all(cluster_scoped))
    documents = [doc for case in slot.cases for doc in (*case.supporting, case.root)]
    for namespace in (slot.kuberay, slot.raykopf):
        kubectl.apply(yaml.safe_dump_all(documents), namespace)


def listing(kubectl: Kubectl, namespace: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    objects = kubectl.json("get", ",".join(CREATED_KINDS), "-n", namespace)["items"]
    events = kubectl.json("get", "events", "-n", namespace)["items"]
    return objects, events


def snapshot(case: Case, namespace: str, objects: list[dict[str, Any]], events: list[dict[str, Any]]) -> Any:
    found = side(namespace, case.name, case.kind, objects, events)
    if found is None:
        return None
    normaliser, root, created, events = found
    # Events count too: raykopf paces its Events, so the last ones may come after the objects settle.
    return (
        json.dumps([normaliser.object(item) for item in (root, *created)], sort_keys=True),
        events,
        behind(root, created),
    )


STARTING_JOB = ("", "Initializing")


def behind(root: dict[str, Any], created: list[dict[str, Any]]) -> bool:
    """A RayJob its operator will move on at its next pass: still starting beside a ready RayCluster,
    or Running without the head Service both operators make for it from Running on. KubeRay's one
    RayJob worker comes back to a RayJob only every 25-80 s here while other RayJobs' dashboard calls
    time out, and a pause that long would look settled."""
    status = root.get("status") or {}
    if root["kind"] != "RayJob":
        return False
    phase = status.get("jobDeploymentStatus", "")
    if phase in STARTING_JOB:
        cluster = next((item for item in created if item["kind"] == "RayCluster"), None)
        return ((cluster or {}).get("status") or {}).get("state") == "ready"
    if phase == "Running" and not (root.get("spec") or {}).get("clusterSelector"):
        uid = root["metadata"]["uid"]
        return not any(
            item["kind"] == "Service"
            and any(ref.get("uid") == uid for ref in item["metadata"].get("ownerReferences") or [])
            for item in created
        )
    return False


def settle(kubectl: Kubectl, slots: list[Slot], timeout: float = SETTLE_TIMEOUT) -> dict[str, Any]:
    """Poll both sides until every case has been unchanged for SETTLE_POLLS polls; return the last
    listing of each namespace."""
    started = time.monotonic()
    history: dict[str, list[Any]] = {}
    while True:
        listings = {ns: listing(kubectl, ns) for slot in slots for ns in (slot.kuberay, slot.raykopf)}
        elapsed_so_far = time.monotonic() - started
        unsettled = []
        for slot in slots:
            for case in slot.cases:
                now = tuple(snapshot(case, ns, *listings[ns]) for ns in (slot.kuberay, slot.raykopf))
                seen = history.setdefault(case.name, [])
                seen.append(now)
                recent = seen[-SETTLE_POLLS:]
                # Waited for up to LAG_GRACE: a RayJob that never moves on (an operator's bug) then
                # shows as a difference instead of timing the settling out.
                lagging = elapsed_so_far < LAG_GRACE and any(item is not None and item[2] for item in now)
                if lagging or len(recent) < SETTLE_POLLS or any(item != recent[0] for item in recent):
                    unsettled.append(case.name)
        elapsed = time.monotonic() - started
        if not unsettled and elapsed >= MIN_AGE:
            return listings
        if elapsed > timeout:
            raise AssertionError(f"not settled after {elapsed:.0f} s: {unsettled}")
        time.sleep(POLL_INTERVAL)


def summary(title: str, results: list[CaseResult], declared_count: int, undeclared: int) -> str:
    lines = [
        "",
        f"KubeRay vs raykopf, differential conformance ({title})",
        f"{'cases':<28}{len(results):>8}",
        f"{'objects compared':<28}{sum(r.objects for r in results):>8}",
        f"{'fields compared':<28}{sum(r.fields for r in results):>8}",
        f"{'differences declared':<28}{declared_count:>8}",
        f"{'undeclared differences':<28}{undeclared:>8}",
    ]
    return "\n".join(lines)


def write_report(path: Path, heading: str, results: list[CaseResult], undeclared: list[Difference]) -> None:
    """The summary table, every difference one per line, then the undeclared ones grouped by object
    kind and path (the table is kept here too: pytest shows a passing test's output to no one)."""
    groups: dict[tuple[str, str], list[Difference]] = {}
    for found in undeclared:
        groups.setdefault((found.object.split(" ", 1)[0], found.path), []).append(found)
    lines = [heading, ""] + [found.line() for result in results for found in result.differences]
    lines.append("\n# undeclared, grouped (kind, path: cases, first values)")
    for (kind, field_path), items in sorted(groups.items(), key=lambda item: -len(item[1])):
        lines.append(
            f"{kind} {field_path}: {len(items)} [{items[0].case}] {items[0].kuberay!r} / {items[0].raykopf!r}"
        )
    path.write_text("\n".join(lines) + "\n")


@contextlib.contextmanager
def process_node_cordoned(kubectl: Kubectl) -> Iterator[None]:
    """Pods that ask for no simulated node (RayJob submitters) stay Pending instead of running Ray
    on the process node: both operators still see the same Pods, and the machine stays idle."""
    nodes = kubectl("get", "nodes", "-l", "raykopf.io/simulated!=true", "-o", "name").split()
    for node in nodes:
        kubectl("cordon", node)
    try:
        yield
    finally:
        for node in nodes:
            kubectl("uncordon", node, check=False)


def compare_slots(
    slots: list[Slot], listings: dict[str, Any], declared: list[Declared], label: str = ""
) -> list[CaseResult]:
    results = []
    for slot in slots:
        for case in slot.cases:
            kuberay = side(slot.kuberay, case.name, case.kind, *listings[slot.kuberay])
            raykopf = side(slot.raykopf, case.name, case.kind, *listings[slot.raykopf])
            assert kuberay is not None, f"{case.name}: KubeRay's root object is gone"
            assert raykopf is not None, f"{case.name}: raykopf's root object is gone"
            results.append(compare_case(case.name + label, kuberay, raykopf, declared))
    return results


# Which declared entries some case showed, over every test of the module: an entry no run shows is
# stale (fixed since, or never true) and must go.
SEEN: set[str] = set()


def judge(
    title: str, results: list[CaseResult], declared: list[Declared], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Print the summary table and the report; fail on any undeclared difference."""
    covered, undeclared = classify(results, declared)
    SEEN.update(match.id for _, match in covered)
    report = tmp_path_factory.mktemp("conformance-report") / "differences.txt"
    table = summary(title, results, len(covered), len(undeclared))
    write_report(report, table, results, undeclared)
    print(table, file=sys.stderr)
    print(f"every difference: {report}", file=sys.stderr)
    for item in declared:
        count = sum(1 for _, match in covered if match.id == item.id)
        if count:
            print(f"  declared {item.id}: {count}", file=sys.stderr)
    assert not undeclared, "undeclared differences from KubeRay:\n" + "\n".join(
        found.line() for found in undeclared
    )


def test_snapshots_match_kuberay(
    kubectl: Kubectl, slots: list[Slot], tmp_path_factory: pytest.TempPathFactory
) -> None:
    with process_node_cordoned(kubectl):
        for slot in slots:
            apply_cases(kubectl, slot)
        listings = settle(kubectl, slots)
    declared = load_declared()
    judge("snapshots", compare_slots(slots, listings, declared), declared, tmp_path_factory)


def test_flows_match_kuberay(
    kubectl: Kubectl, slots: list[Slot], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each flow's steps, applied to both sides in lockstep; compared after every step."""
    by_name = {flow.case.name: flow for flow in flows()}
    flow_slots = [Slot(slot.index, [case for case in slot.cases if case.name in by_name]) for slot in slots]
    flow_slots = [slot for slot in flow_slots if slot.cases]
    declared = load_declared()
    results: list[CaseResult] = []
    with process_node_cordoned(kubectl):
        for slot in flow_slots:
            apply_cases(kubectl, slot)
        listings = settle(kubectl, flow_slots)
        for number in range(max(len(flow.steps) for flow in by_name.values())):
            stepping = []
            for slot in flow_slots:
                cases = [case for case in slot.cases if number < len(by_name[case.name].steps)]
                for case in cases:
                    step = by_name[case.name].steps[number]
                    print(f"[flow] {case.name}: {step.name}", file=sys.stderr, flush=True)
                    for namespace in (slot.kuberay, slot.raykopf):
                        step.act(kubectl, namespace, listings[namespace][0])
                stepping.append(Slot(slot.index, cases))
            stepping = [slot for slot in stepping if slot.cases]
            listings = settle(kubectl, flow_slots)
            results += compare_slots(stepping, listings, declared, f" after step {number + 1}")
    judge("flows", results, declared, tmp_path_factory)


# KubeRay's operator environment (its Helm chart's `env:`), each set to what is not its default.
KNOBS = {
    "ENABLE_INIT_CONTAINER_INJECTION": "false",
    "ENABLE_PROBES_INJECTION": "false",
    "ENABLE_RAY_HEAD_CLUSTER_IP_SERVICE": "true",
    "ENABLE_DETERMINISTIC_HEAD_POD_NAME": "true",
    "ENABLE_LOGIN_SHELL": "true",
    "ENABLE_GCS_FT_REDIS_CLEANUP": "false",
    "CLUSTER_DOMAIN": "cluster.example",
}
KNOB_CASES = (
    "kr-sample",
    "syn-head-service",
    "syn-autoscaler-v1",
    "syn-gcs-ft-options",
    "kr-job-sample",
    "kr-svc-sample",
)


@contextlib.contextmanager
def operators_with(
    env: dict[str, str], local_cluster: LocalCluster, ours: HostOperator, slots: list[Slot]
) -> Iterator[None]:
    """Both operators restarted with `env`; restarted without it after."""

    def restart(with_env: dict[str, str]) -> None:
        ours.stop()
        ours.env = with_env
        ours.start()
        local_cluster.start_kuberay(say, [slot.kuberay for slot in slots], env=with_env)

    restart(env)
    try:
        yield
    finally:
        restart({})


def compare_under(
    operators: contextlib.AbstractContextManager[None],
    cases: tuple[str, ...],
    title: str,
    kubectl: Kubectl,
    slots: list[Slot],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[list[Slot], dict[str, Any]]:
    """`cases` applied to both sides while `operators` holds (both restarted with some setting), each
    compared; the slots they ran in and the last listing of each side."""
    by_name = {case.name: case for case in all_cases()}
    case_slots = pack([by_name[name] for name in cases])
    clear(kubectl, slots)
    declared = load_declared()
    with operators, process_node_cordoned(kubectl):
        for slot in case_slots:
            apply_cases(kubectl, slot)
        listings = settle(kubectl, case_slots)
        clear(kubectl, case_slots)
    judge(
        title, compare_slots(case_slots, listings, declared, f" with the {title}"), declared, tmp_path_factory
    )
    return case_slots, listings


def test_operator_env_knobs_match_kuberay(
    kubectl: Kubectl,
    local_cluster: LocalCluster,
    ours: HostOperator,
    slots: list[Slot],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Both operators with KubeRay's ENABLE_* knobs and CLUSTER_DOMAIN turned from their defaults:
    a RayCluster, a custom head Service, the autoscaler, GCS fault tolerance, a RayJob and a
    RayService compared."""
    knob_slots, listings = compare_under(
        operators_with(KNOBS, local_cluster, ours, slots),
        KNOB_CASES,
        "operator env knobs",
        kubectl,
        slots,
        tmp_path_factory,
    )
    # The knobs reached KubeRay, so equal output is raykopf honouring them, not both ignoring them.
    pods = [item for item in listings[knob_slots[0].kuberay][0] if item["kind"] == "Pod"]
    sample = [pod for pod in pods if pod["metadata"]["labels"].get("ray.io/cluster") == "kr-sample"]
    head = next(pod for pod in sample if pod["metadata"]["name"] == "kr-sample-head")
    ray = head["spec"]["containers"][0]
    assert ray["command"] == ["/bin/bash", "-cl", "--"], ray["command"]
    assert "readinessProbe" not in ray, ray
    assert "livenessProbe" not in ray, ray
    workers = [pod for pod in sample if pod["metadata"]["labels"].get("ray.io/node-type") == "worker"]
    assert workers, sample
    assert not any(pod["spec"].get("initContainers") for pod in workers), workers
    assert "cluster.example" in json.dumps(workers[0]["spec"]["containers"][0]), workers[0]


# KubeRay's Configuration file: what it adds to Pods (v1.6.1's fields; the pinned peer has no
# defaultPodLabels/defaultPodAnnotations, which the unit tests check against the reference).
POD_DEFAULTS: dict[str, Any] = {
    "headSidecarContainers": [{"name": "fluentbit", "image": "fluent/fluent-bit:1.9.6"}],
    "workerSidecarContainers": [
        {"name": "log-shipper", "image": "busybox:1.36", "command": ["sh", "-c", "sleep infinity"]}
    ],
    "defaultContainerEnvs": [
        {"name": "TEST_DEFAULT_ENV_NAME", "value": "TEST_ENV_VALUE"},
        {"name": "NODE_NAME_DEFAULT", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
    ],
}
CONFIG_CASES = ("kr-sample", "kr-autoscaler", "kr-job-sample")


@contextlib.contextmanager
def operators_configured_by_file(
    local_cluster: LocalCluster, ours: HostOperator, slots: list[Slot], folder: Path
) -> Iterator[None]:
    """Both operators restarted with `--config` files that differ only in where each runs (as KubeRay,
    the file replaces the flags: namespaces, addresses, leader election); restarted as before after."""
    header = {"apiVersion": "config.ray.io/v1alpha1", "kind": "Configuration", **POD_DEFAULTS}
    kuberay_file, raykopf_file = folder / "kuberay.yaml", folder / "raykopf.yaml"
    kuberay_file.write_text(
        yaml.safe_dump(
            {
                **header,
                "watchNamespace": ",".join(slot.kuberay for slot in slots),
                "metricsAddr": kuberay.METRICS_ADDR,
                "probeAddr": kuberay.PROBE_ADDR,
                "enableLeaderElection": False,
                "useKubernetesProxy": True,
            }
        )
    )
    raykopf_file.write_text(
        yaml.safe_dump(
            {
                **header,
                "watchNamespace": ",".join(slot.raykopf for slot in slots),
                "leaderElectionNamespace": "default",
                "useKubernetesProxy": True,
            }
        )
    )
    before = ours.extra
    ours.stop()
    ours.extra = ["--config", str(raykopf_file)]
    ours.start()
    local_cluster.start_kuberay(
        say, [slot.kuberay for slot in slots], extra_args=["--config", str(kuberay_file)]
    )
    try:
        yield
    finally:
        ours.stop()
        ours.extra = before
        ours.start()
        local_cluster.start_kuberay(say, [slot.kuberay for slot in slots])


def test_operator_configuration_file_matches_kuberay(
    kubectl: Kubectl,
    local_cluster: LocalCluster,
    ours: HostOperator,
    slots: list[Slot],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Both operators started with KubeRay's `--config` file (head and worker sidecars, default container
    env vars with a value and a fieldRef): a RayCluster, an autoscaled one and a RayJob compared."""
    folder = tmp_path_factory.mktemp("operator-config")
    config_slots, listings = compare_under(
        operators_configured_by_file(local_cluster, ours, slots, folder),
        CONFIG_CASES,
        "operator configuration file",
        kubectl,
        slots,
        tmp_path_factory,
    )
    # The file reached KubeRay: equal output is raykopf honouring it, not both ignoring it.
    pods = [item for item in listings[config_slots[0].kuberay][0] if item["kind"] == "Pod"]
    by_cluster = {
        cluster: [pod for pod in pods if pod["metadata"]["labels"].get("ray.io/cluster") == cluster]
        for cluster in ("kr-sample", "kr-autoscaler")
    }
    head = next(
        pod for pod in by_cluster["kr-autoscaler"] if pod["metadata"]["labels"]["ray.io/node-type"] == "head"
    )
    assert [c["name"] for c in head["spec"]["containers"]][1:] == ["autoscaler", "fluentbit"], head["spec"]
    worker = next(
        pod for pod in by_cluster["kr-sample"] if pod["metadata"]["labels"]["ray.io/node-type"] == "worker"
    )
    assert worker["spec"]["containers"][-1]["name"] == "log-shipper", worker["spec"]
    assert {"name": "TEST_DEFAULT_ENV_NAME", "value": "TEST_ENV_VALUE"} in worker["spec"]["containers"][0][
        "env"
    ]


# Real Ray on two shared cores slows down far more than linearly with the number of Ray nodes
# starting at once, so the real-Ray tests start one case at a time and get their own time budget.
REAL_RAY_TIMEOUT = 900


def job_states(kubectl: Kubectl, namespaces: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Each side's RayJobs: deployment status, job status, reason; what a timeout shows."""
    return {
        namespace: {
            item["metadata"]["name"]: {
                key: (item.get("status") or {}).get(key)
                for key in ("jobDeploymentStatus", "jobStatus", "reason")
            }
            for item in kubectl.json("get", "rayjobs", "-n", namespace)["items"]
        }
        for namespace in namespaces
    }


@pytest.mark.timeout(REAL_RAY_TIMEOUT)
def test_real_ray_runs_match_kuberay(
    kubectl: Kubectl, slots: list[Slot], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """RayJobs run to the end with real Ray under both operators, then compared like a snapshot."""
    cases = real_ray_cases()
    slot = Slot(slots[0].index, cases)
    sides = (slot.kuberay, slot.raykopf)
    clear(kubectl, slots)  # two cores: the simulated cases' work would starve real Ray
    for case in cases:
        apply_cases(kubectl, Slot(slot.index, [case]))

        def both_finished(name: str = case.name) -> bool:
            states = job_states(kubectl, sides)
            return all(name in states[ns] and finished({"status": states[ns][name]}) for ns in sides)

        try:
            wait_for(both_finished, 240, f"RayJob {case.name} to finish on both sides", interval=2)
        except AssertionError as timed_out:
            raise AssertionError(f"{timed_out}; RayJobs: {job_states(kubectl, sides)}") from None
    listings = settle(kubectl, [slot], timeout=240)
    declared = load_declared()
    judge("real Ray", compare_slots([slot], listings, declared), declared, tmp_path_factory)
    ours = {item["metadata"]["name"]: item for item in listings[slot.raykopf][0] if item["kind"] == "RayJob"}
    for case in cases:
        assert ours[case.name]["status"]["jobDeploymentStatus"] == "Complete", ours[case.name]["status"]


@pytest.mark.timeout(REAL_RAY_TIMEOUT)
def test_real_rayservice_update_in_place_matches_kuberay(
    kubectl: Kubectl, slots: list[Slot], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """raykopf's RayService sample serving with real Ray under both operators, compared; then its
    Serve config changed in place (a new greeting) on both sides, and compared again."""
    case = real_rayservice_case()
    slot = Slot(slots[0].index, [case])
    clear(kubectl, slots)
    apply_cases(kubectl, slot)

    def roots() -> dict[str, dict[str, Any]]:
        return {
            ns: kubectl.json("get", "rayservice", case.name, "-n", ns) for ns in (slot.kuberay, slot.raykopf)
        }

    wait_for(
        lambda: all(serving_on_every_pod(root) for root in roots().values()),
        420,
        "both sides to serve from the head and the worker",
        interval=2,
    )
    declared = load_declared()
    results = compare_slots([slot], settle(kubectl, [slot], timeout=240), declared)
    for namespace, root in roots().items():
        patch = json.dumps(greeting_patch(root, "bonjour"))
        kubectl("patch", "rayservice", case.name, "-n", namespace, "--type=merge", "-p", patch)
    urls = [
        f"http://{kubectl.json('get', 'service', f'{case.name}-serve-svc', '-n', ns)['spec']['clusterIP']}:8000"
        for ns in (slot.kuberay, slot.raykopf)
    ]
    wait_for(
        lambda: all(greet(url, "op") == (200, {"message": "bonjour op"}) for url in urls),
        240,
        "both sides to answer with the new greeting",
        interval=2,
    )
    results += compare_slots([slot], settle(kubectl, [slot], timeout=240), declared, " after the update")
    judge("real Ray, RayService", results, declared, tmp_path_factory)
    clusters = kubectl("get", "rayclusters", "-n", slot.raykopf, "-o", "name").split()
    assert len(clusters) == 1, f"an in-place update made a new RayCluster: {clusters}"


def test_every_declared_difference_was_seen() -> None:
    """After the module's other tests (it needs them all): every declared entry that is not a race
    was shown by some case."""
    unseen = [item.id for item in load_declared() if item.id not in SEEN and not item.race]
    assert SEEN, "no comparison ran before this test: run the whole module"
    assert not unseen, f"declared differences that no case shows (remove or fix them): {unseen}"
