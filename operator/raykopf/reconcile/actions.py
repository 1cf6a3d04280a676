"""What a reconcile pass decided to do, in one vocabulary for the three kinds; carried out by
`raykopf.k8s.executor` in a fixed order:

1. the owner's finalizer, when one is to be added;
2. the status first, when it records the identity of something this pass creates (`status_first`:
   a RayJob's cluster name and job ID, a RayService's pending cluster): a retry after any later
   failure finds the name again and never makes a second object;
3. deletes, then patches, then creates (the `first` create alone: if it is refused, nothing else is
   tried), each in the cache as soon as the apiserver answers;
4. events; then the whole new status, only when every write above went through (otherwise the next
   pass plans again from what is);
5. intents: what the controller remembers or asks its pollers (never the apiserver);
6. the owner's finalizer removed, or the owner deleted, last.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from raykopf.api.base import ApiModel

MIN_REQUEUE_SECONDS = 0.5

# What `if_exists` does with an object of the create's name that is already there.
KEEP = "keep"
"""Leave it (made by an earlier pass, or the user's)."""
TAKE_OVER = "take-over"
"""A Service: move its selector and labels to this owner's."""
MUST_BE_OURS = "must-be-ours"
"""A Role or RoleBinding: refuse to build on one this owner does not own (`NotOurs`)."""


def sooner(current: float | None, seconds: float) -> float:
    """The earlier of two requeue delays (never below half a second: no hot loop)."""
    seconds = max(seconds, MIN_REQUEUE_SECONDS)
    return seconds if current is None else min(current, seconds)


class RetryLater(Exception):
    """The pass cannot go on now and is retried with the key's back-off, not before `after` seconds
    (a Retry-After), without being reported as a failure: it has been said on the object already (a
    create refused: quota, a 422, a 429), or nothing went wrong (the object changed meanwhile)."""

    def __init__(self, why: str, *, after: float | None = None) -> None:
        super().__init__(why)
        self.after = after


@dataclass(frozen=True)
class Said:
    """How an action is told: the Event on success (one per reason and pass; `plural` when it covers
    several objects), the Warning Event's reason on failure, and the status reason of that failure
    (RayCluster's ReplicaFailure condition, as KubeRay words it)."""

    note: str
    """`{}` is namespace/name."""
    failed: str
    replica_failure: str = ""
    plural: str = ""
    """`{n}` objects, `{names}`; empty: one Event per object."""


def _pods(verb: str, noun: str) -> str:
    return f"{verb} {{n}} {noun}s: {{names}}"


SAID = {
    "CreatedHeadPod": Said(
        "Created head Pod {}", "FailedToCreateHeadPod", "FailedCreateHeadPod", _pods("Created", "head Pod")
    ),
    "CreatedWorkerPod": Said(
        "Created worker Pod {}",
        "FailedToCreateWorkerPod",
        "FailedCreateWorkerPod",
        _pods("Created", "worker Pod"),
    ),
    "DeletedHeadPod": Said(
        "Deleted head Pod {}", "FailedToDeleteHeadPod", "FailedDeleteHeadPod", _pods("Deleted", "head Pod")
    ),
    "DeletedWorkerPod": Said(
        "Deleted worker Pod {}",
        "FailedToDeleteWorkerPod",
        "FailedDeleteWorkerPod",
        _pods("Deleted", "worker Pod"),
    ),
    "DeletedPod": Said(
        "Deleted Pod {}", "FailedToDeletePodCollection", "FailedDeleteAllPods", _pods("Deleted", "Pod")
    ),
    "CreatedService": Said("Created service {}", "FailedToCreateService"),
    "UpdatedService": Said("Updated service {}", "FailedToUpdateService"),
    "CreatedServiceAccount": Said("Created service account {}", "FailedToCreateServiceAccount"),
    "CreatedRole": Said("Created role {}", "FailedToCreateRole"),
    "CreatedRoleBinding": Said("Created role binding {}", "FailedToCreateRoleBinding"),
    "CreatedIngress": Said("Created ingress {}", "FailedToCreateIngress"),
    "CreatedSecret": Said("Created secret {}", "FailedToCreateSecret"),
    "CreatedRayCluster": Said("Created RayCluster {}", "FailedToCreateRayCluster"),
    "CreatedRayJobSubmitter": Said("Created Kubernetes Job {}", "FailedToCreateRayJobSubmitter"),
    "CreatedRedisCleanupJob": Said("Created Redis cleanup Job {}", "FailedToCreateRedisCleanupJob"),
    "UpdatedHeadPodServeLabel": Said("Pod {}: serve label updated", "FailedToUpdateHeadPodServeLabel"),
}


@dataclass(frozen=True)
class Create:
    body: dict[str, Any]
    reason: str
    """A key of SAID: the Event on success, and the words of a failure."""
    silent: bool = False
    """No Event on success (KubeRay posts none, e.g. for the auth Secret)."""
    if_exists: str = KEEP
    look_first: bool = False
    """Read before creating: for kinds no cache covers, made once and then found every pass."""
    first: bool = False
    """Goes alone before the other creates; if it is refused, none of them is tried (a head Pod)."""
    note: str = ""
    """The Event's message when it is not SAID's (`{}` is namespace/name)."""


@dataclass(frozen=True)
class Delete:
    kind: str
    namespace: str
    name: str
    reason: str | None = None
    """A key of SAID; None: no Event."""


@dataclass(frozen=True)
class Patch:
    """A JSON merge patch of a child object; put `metadata.resourceVersion` in it to make it fail on a
    concurrent change instead of overwriting one (a RayCluster's worker groups)."""

    kind: str
    namespace: str
    name: str
    body: dict[str, Any]
    reason: str | None = None
    note: str = ""
    """The Event's message, when it says more than SAID's."""


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass(frozen=True)
class Failure:
    """A write the apiserver refused or did not answer: the Warning Event's reason, the status reason
    (RayCluster's ReplicaFailure) and the apiserver's words, and how long it asked to wait."""

    reason: str
    replica_failure: str
    message: str
    error: Exception
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{self.replica_failure or self.reason}: {self.message}"


@dataclass
class Actions:
    creates: list[Create] = field(default_factory=list)
    deletes: list[Delete] = field(default_factory=list)
    patches: list[Patch] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    status: ApiModel | None = None
    """The whole new status (the kind's `*Status` model), or None: leave it as it is."""
    status_first: bool = False
    """The new status names objects this pass creates: it is written before them."""
    add_finalizer: str | None = None
    remove_finalizer: str | None = None
    delete_owner: bool = False
    intents: list[Any] = field(default_factory=list)
    """Controller-specific, carried out after every write succeeded (pollers, memory)."""
    requeue_after: float | None = None
    truncated: bool = False
    """More Pods are missing than one pass creates: the next pass goes on at once."""

    def later(self, seconds: float) -> None:
        self.requeue_after = sooner(self.requeue_after, seconds)

    def event(self, event_type: str, reason: str, message: str) -> None:
        self.events.append(Event(event_type, reason, message))
