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
