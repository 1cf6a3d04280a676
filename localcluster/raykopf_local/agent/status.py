"""Pod status as kubelet reports it, computed from the containers' states (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ContainerStatus:
    """One container's lifecycle, in the shape of core/v1 ContainerStatus."""

    name: str
    image: str
    state: dict[str, Any] = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: dict[str, Any] = field(default_factory=dict)
    ready: bool = False
    started: bool = False
    restart_count: int = 0
    container_id: str = ""
    will_restart: bool = True
    # A native sidecar: an init container with `restartPolicy: Always`, kept running beside the Pod's
    # containers (Kubernetes 1.29+).
    sidecar: bool = False
    # The resources the container runs with (status.containerStatuses[].resources and, for requests,
    # allocatedResources), updated by an in-place resize.
    resources: dict[str, Any] = field(default_factory=dict)

    @property
    def completed(self) -> bool:
        """A regular init container that exited 0."""
        terminated = self.terminated
        return terminated is not None and terminated.get("exitCode") == 0

    @property
    def running(self) -> bool:
        return "running" in self.state

    @property
    def terminated(self) -> dict[str, Any] | None:
        value = self.state.get("terminated")
        return value if isinstance(value, dict) else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "image": self.image,
            "imageID": f"raykopf-local://{self.image}",
            "state": self.state,
            "lastState": self.last_state,
            "ready": self.ready,
            "restartCount": self.restart_count,
            "started": self.started,
        }
        if self.container_id:
            out["containerID"] = self.container_id
        if self.resources:
            out["resources"] = self.resources
            if self.resources.get("requests"):
                out["allocatedResources"] = self.resources["requests"]
        return out


def _condition(
    kind: str, ok: bool, now: str, reason: str | None = None, message: str | None = None
) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "type": kind,
        "status": "True" if ok else "False",
        "lastProbeTime": None,
        "lastTransitionTime": now,
    }
    if not ok and reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def _init_done(container: ContainerStatus) -> bool:
    # A sidecar being restarted has started before: the Pod stays initialized meanwhile.
    if container.sidecar:
        return container.started or container.restart_count > 0
    return container.completed


def initialized(init: list[ContainerStatus]) -> bool:
    """Every regular init container completed and every sidecar started (kubelet's Initialized)."""
    return all(_init_done(c) for c in init)


def phase(init: list[ContainerStatus], main: list[ContainerStatus], restart_policy: str) -> str:
    failed_init = [
        c
        for c in init
        if not c.sidecar and c.terminated and c.terminated.get("exitCode") != 0 and not c.will_restart
    ]
    if failed_init:
        return "Failed"
    if not all(c.completed for c in init if not c.sidecar):
        return "Pending"
    if any(c.running for c in main):
        return "Running"
    # Sidecars do not keep a Pod whose containers all finished from completing, nor decide its phase.
    if main and all(c.terminated and not c.will_restart for c in main):
        return "Succeeded" if all(c.completed for c in main) else "Failed"
    if any(c.terminated or c.last_state for c in main) and restart_policy != "Never":
        return "Running"
    return "Pending"


def pod_status(
    *,
    init: list[ContainerStatus],
    main: list[ContainerStatus],
    restart_policy: str,
    pod_ip: str,
    host_ip: str,
    start_time: str,
    previous: list[dict[str, Any]],
    now: str,
    message: str | None = None,
    reason: str | None = None,
    observed_generation: int | None = None,
) -> dict[str, Any]:
    """The `status` of the pod; transition times are kept from `previous` conditions that did not change."""
    current_phase = phase(init, main, restart_policy)
    sidecars = [c for c in init if c.sidecar]
    # A sidecar's readiness counts as a container's (kubelet: restartable init containers).
    not_ready = [c.name for c in (*sidecars, *main) if not c.ready]
    containers_ready = bool(main) and not not_ready
    unready_message = f"containers with unready status: [{' '.join(not_ready)}]" if not_ready else None
    incomplete = [c.name for c in init if not _init_done(c)]
    conditions = [
        _condition(
            "Initialized",
            initialized(init),
            now,
            "ContainersNotInitialized",
            f"containers with incomplete status: [{' '.join(incomplete)}]" if incomplete else None,
        ),
        _condition("Ready", containers_ready, now, "ContainersNotReady", unready_message),
        _condition("ContainersReady", containers_ready, now, "ContainersNotReady", unready_message),
        _condition("PodScheduled", True, now),
    ]
    earlier = {c.get("type"): c for c in previous}
    for condition in conditions:
        old = earlier.get(condition["type"])
        if old and old.get("status") == condition["status"]:
            condition["lastTransitionTime"] = old.get("lastTransitionTime", now)
    status: dict[str, Any] = {
        "phase": current_phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "startTime": start_time,
        "containerStatuses": [c.to_dict() for c in main],
    }
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    if init:
        status["initContainerStatuses"] = [c.to_dict() for c in init]
    if observed_generation is not None:
        status["observedGeneration"] = observed_generation
    if message:
        status["message"] = message
    if reason:
        status["reason"] = reason
    return status
