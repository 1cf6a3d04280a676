"""In-place Pod resize as kubelet decides it: only a resource whose resizePolicy says RestartContainer
restarts its container."""

from __future__ import annotations

from typing import Any

from raykopf_local.agent.resize import changed_resources, decide


def container(name: str, cpu: str, memory: str, policy: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}},
        "resizePolicy": [{"resourceName": r, "restartPolicy": p} for r, p in (policy or {}).items()],
    }


CURRENT = {"ray-head": container("ray-head", "1", "1Gi")["resources"]}


def test_a_cpu_change_under_the_default_policy_restarts_nothing() -> None:
    wanted = [container("ray-head", "2", "1Gi")]
    decision = decide(wanted, CURRENT)
    assert decision.restart == ()
    assert decision.resources == {"ray-head": wanted[0]["resources"]}


def test_restart_container_applies_only_to_the_resource_it_names() -> None:
    policy = {"cpu": "NotRequired", "memory": "RestartContainer"}
    assert decide([container("ray-head", "2", "1Gi", policy)], CURRENT).restart == ()
    assert decide([container("ray-head", "1", "2Gi", policy)], CURRENT).restart == ("ray-head",)


def test_changed_resources_compare_requests_and_limits() -> None:
    old = {"requests": {"cpu": "1"}, "limits": {"cpu": "1", "memory": "1Gi"}}
    assert changed_resources(old, {"requests": {"cpu": "1"}, "limits": {"cpu": "1", "memory": "2Gi"}}) == {
        "memory"
    }
    assert changed_resources(old, old) == set()
