"""Pod phase and conditions as kubelet reports them."""

from __future__ import annotations

from raykopf_local.agent.status import ContainerStatus, phase, pod_status


def running(name: str, ready: bool = True) -> ContainerStatus:
    return ContainerStatus(name, "img", state={"running": {"startedAt": "t"}}, ready=ready, started=True)


def exited(name: str, code: int, will_restart: bool = False) -> ContainerStatus:
    return ContainerStatus(name, "img", state={"terminated": {"exitCode": code}}, will_restart=will_restart)


def test_phases() -> None:
    assert phase([], [ContainerStatus("c", "img")], "Always") == "Pending"
    assert phase([exited("init", 0)], [running("c")], "Always") == "Running"
    assert phase([running("init")], [ContainerStatus("c", "img")], "Always") == "Pending"
    assert phase([exited("init", 1)], [ContainerStatus("c", "img")], "Never") == "Failed"
    assert phase([], [exited("a", 0), exited("b", 0)], "Never") == "Succeeded"
    assert phase([], [exited("a", 0), exited("b", 2)], "Never") == "Failed"
    assert phase([], [exited("a", 2, will_restart=True)], "OnFailure") == "Running"


def test_ready_conditions_name_the_unready_containers_and_keep_transition_times() -> None:
    previous = [{"type": "Initialized", "status": "True", "lastTransitionTime": "earlier"}]
    status = pod_status(
        init=[],
        main=[running("a"), running("b", ready=False)],
        restart_policy="Always",
        pod_ip="198.18.0.2",
        host_ip="198.18.0.1",
        start_time="t0",
        previous=previous,
        now="now",
    )
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Initialized"]["lastTransitionTime"] == "earlier"
    assert conditions["Ready"]["status"] == "False"
    assert conditions["Ready"]["message"] == "containers with unready status: [b]"
    assert status["podIP"] == "198.18.0.2"
    assert status["podIPs"] == [{"ip": "198.18.0.2"}]
    assert [c["name"] for c in status["containerStatuses"]] == ["a", "b"]


def sidecar(name: str, *, started: bool = True, ready: bool = True) -> ContainerStatus:
    state = {"running": {"startedAt": "t"}} if started else {"waiting": {"reason": "PodInitializing"}}
    return ContainerStatus(name, "img", state=state, ready=ready, started=started, sidecar=True)


def test_a_running_sidecar_is_initialized_and_never_decides_the_phase() -> None:
    """KEP-753 (kubelet): an init container with restartPolicy Always counts as initialized once
    started, keeps running beside the containers, and the Pod completes when its containers do."""
    assert phase([sidecar("proxy")], [running("c")], "Always") == "Running"
    assert phase([sidecar("proxy", started=False)], [ContainerStatus("c", "img")], "Never") == "Pending"
    assert phase([sidecar("proxy"), exited("init", 0)], [exited("c", 0)], "Never") == "Succeeded"
    failed_sidecar = ContainerStatus(
        "proxy", "img", state={"terminated": {"exitCode": 1}}, sidecar=True, will_restart=False
    )
    assert phase([failed_sidecar], [exited("c", 0)], "Never") == "Succeeded"


def test_a_sidecars_start_and_readiness_enter_the_pods_conditions() -> None:
    def conditions(init: list[ContainerStatus]) -> dict[str, dict[str, object]]:
        status = pod_status(
            init=init,
            main=[running("c")],
            restart_policy="Always",
            pod_ip="198.18.0.2",
            host_ip="198.18.0.1",
            start_time="t0",
            previous=[],
            now="now",
        )
        return {c["type"]: c for c in status["conditions"]}

    waiting = conditions([sidecar("proxy", started=False, ready=False)])
    assert waiting["Initialized"]["status"] == "False"
    assert waiting["Initialized"]["message"] == "containers with incomplete status: [proxy]"
    unready = conditions([sidecar("proxy", ready=False)])
    assert unready["Initialized"]["status"] == "True"
    assert unready["Ready"]["status"] == "False"
    assert unready["Ready"]["message"] == "containers with unready status: [proxy]"
    assert conditions([sidecar("proxy")])["Ready"]["status"] == "True"
    restarting = ContainerStatus(
        "proxy", "img", state={"waiting": {"reason": "CrashLoopBackOff"}}, restart_count=1, sidecar=True
    )
    assert conditions([restarting])["Initialized"]["status"] == "True"  # it had started before
