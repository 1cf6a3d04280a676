"""The Lease loop: wait to become leader, keep renewing, release on the way out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp

from raykopf.k8s.client import ApiError, KubeClient
from raykopf.k8s.events import build_event
from raykopf.reconcile.lease import (
    WATCH_NAMESPACES_ANNOTATION,
    LeaseStep,
    Observed,
    Rival,
    micro_time,
    next_step,
    released,
    rivals,
)

log = logging.getLogger("raykopf")

LEASE_NAME = "ray-operator-leader"  # KubeRay's: two operators of either kind never both lead
# controller-runtime's defaults.
LEASE_DURATION = 15
RENEW_DEADLINE = 10.0
RETRY_PERIOD = 2.0


class LostLeadership(Exception):
    """The Lease could not be renewed within the renew deadline: another replica may lead now."""


class LeaderElector:
    def __init__(
        self,
        client: KubeClient,
        namespace: str,
        identity: str,
        *,
        name: str = LEASE_NAME,
        duration: int = LEASE_DURATION,
        renew_deadline: float = RENEW_DEADLINE,
        retry_period: float = RETRY_PERIOD,
        watches: list[str] | None = None,
    ) -> None:
        self.client, self.identity, self.duration = client, identity, duration
        self.annotations = {WATCH_NAMESPACES_ANNOTATION: ",".join(watches or [])}
        self.path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
        self.collection = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self.name, self.renew_deadline, self.retry_period = name, renew_deadline, retry_period
        self.is_leader = False
        self._observed: Observed | None = None
        self._version: str | None = None
        self._written: dict[str, Any] | None = None  # the Lease as this replica last wrote it
        self.failure = ""
        """Why the last attempt did not leave this replica holding the Lease."""
        self.loop_lag = 0.0
        """The longest the event loop overslept a retry period while this replica led (seconds)."""

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Try every retry period until this replica leads (True) or `stop` is set (False)."""
        waiting_logged = False
        while not stop.is_set():
            if await self._try():
                self.is_leader = True
                log.info("acquired the leader Lease", extra={"lease": self.name, "identity": self.identity})
                return True
            if not waiting_logged:
                holder = (self._observed.spec.get("holderIdentity") if self._observed else "") or ""
                log.info("waiting for the leader Lease", extra={"lease": self.name, "holder": holder})
                waiting_logged = True
            await _sleep_or_stop(stop, self.retry_period)
        return False

    async def hold(self) -> None:
        """Renew every retry period; raise LostLeadership once renewing failed for the renew deadline.
        Each attempt gets only the time left before that deadline: a renewal that hangs must not keep
        this replica acting past the point where a standby may take the Lease (the Lease duration).
        After the event loop stalled past the deadline, one attempt still runs (for a retry period):
        its write is conditional on the resourceVersion this replica last wrote, so it succeeds only
        if no standby took the Lease meanwhile."""
        last_renewed = time.monotonic()
        while True:
            asleep = time.monotonic()
            await asyncio.sleep(self.retry_period)
            now = time.monotonic()
            self.loop_lag = max(self.loop_lag, now - asleep - self.retry_period)
            budget = max(self.renew_deadline - (now - last_renewed), self.retry_period)
            try:
                renewed = await asyncio.wait_for(self._try(), budget)
            except TimeoutError:
                renewed, self.failure = False, f"no answer within {budget:.1f} s"
            if renewed:
                last_renewed = time.monotonic()
            elif time.monotonic() - last_renewed >= self.renew_deadline:
                self.is_leader = False
                raise LostLeadership(
                    f"could not renew Lease {self.name} for {self.renew_deadline:.0f} s (last attempt: "
                    f"{self.failure}; longest event-loop stall while leading: {self.loop_lag:.1f} s)"
                )

    async def release(self) -> None:
        if not self.is_leader:
            return
        self.is_leader = False
        try:
            current = await self.client.get(self.path)
            spec = released((current or {}).get("spec") or {}, self.identity, datetime.now(UTC))
            if current is not None and spec is not None:
                await self.client.request("PUT", self.path, body={**current, "spec": spec})
                log.info("released the leader Lease", extra={"lease": self.name})
        except (TimeoutError, ApiError, OSError, aiohttp.ClientError) as error:
            log.warning("could not release the leader Lease", extra={"error": str(error)})

    async def _try(self) -> bool:
        """True when this replica holds the Lease afterwards. The holder writes its renewal straight
        over the Lease it last wrote (one request, as client-go does); a candidate, or a holder whose
        write met a conflict, reads first and writes at most once."""
        try:
            if self.is_leader and self._written is not None and await self._renew(self._written):
                return True
            current = await self.client.get(self.path)
            self._observe(current)
            step: LeaseStep = next_step(
                self._observed,
                self.identity,
                now=datetime.now(UTC),
                monotonic=time.monotonic(),
                duration=self.duration,
            )
            if step.spec is None:
                holder = (self._observed.spec.get("holderIdentity") if self._observed else "") or ""
                self.failure = f"held by {holder}"
                return False
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {
                    "name": self.name,
                    "annotations": self.annotations,
                    **({"resourceVersion": self._version} if current else {}),
                },
                "spec": step.spec,
            }
            # The resourceVersion makes the write conditional: of two candidates, one gets 409.
            if current is None:
                self._written = await self.client.create(self.collection, body)
            else:
                self._written = await self.client.request("PUT", self.path, body=body)
            return True
        except (TimeoutError, ApiError, OSError, aiohttp.ClientError) as error:
            self._written, self.failure = None, str(error) or type(error).__name__
            if not (isinstance(error, ApiError) and error.status == 409):
                log.warning("leader Lease request failed", extra={"lease": self.name, "error": str(error)})
            return False

    async def _renew(self, written: dict[str, Any]) -> bool:
        """Write the renewal over `written`; False (and a read next) when someone else wrote since."""
        spec = {**written["spec"], "renewTime": micro_time(datetime.now(UTC))}
        try:
            self._written = await self.client.request("PUT", self.path, body={**written, "spec": spec})
        except ApiError as error:
            if error.status != 409:
                raise
            self._written = None
            return False
        return True

    def _observe(self, current: dict[str, Any] | None) -> None:
        if current is None:
            self._observed, self._version = None, None
            return
        spec = dict(current.get("spec") or {})
        self._version = str(current["metadata"].get("resourceVersion"))
        if self._observed is None or self._observed.spec != spec:
            self._observed = Observed(spec, time.monotonic())


class RivalOperator(Exception):
    """Another operator started leading over namespaces this one watches."""


class RivalGuard:
    """Stands back while another operator (KubeRay, or another raykopf) leads through a
    `ray-operator-leader` Lease in another namespace over namespaces this one watches: two leaders
    would both create Pods for the same RayClusters."""

    def __init__(
        self, client: KubeClient, own_lease_namespace: str, watches: list[str], identity: str
    ) -> None:
        self.client, self.own_lease_namespace, self.watches = client, own_lease_namespace, watches
        self.identity = identity
        self.reported: set[tuple[str, str]] = set()
        self.blind = False

    async def find(self) -> list[Rival]:
        try:
            listed = await self.client.get(
                f"/apis/coordination.k8s.io/v1/leases?fieldSelector=metadata.name%3D{LEASE_NAME}"
            )
        except (TimeoutError, ApiError, OSError, aiohttp.ClientError) as error:
            if not self.blind:
                log.warning(
                    "cannot list the other operators' Leases: the guard against a second operator is off",
                    extra={"error": str(error)},
                )
                self.blind = True
            return []
        self.blind = False
        found = rivals(
            (listed or {}).get("items") or [],
            own_lease_namespace=self.own_lease_namespace,
            watches=self.watches,
            now=datetime.now(UTC),
        )
        for rival in found:
            if (rival.namespace, rival.holder) not in self.reported:
                self.reported.add((rival.namespace, rival.holder))
                log.error(
                    "another operator leads over namespaces this one watches: not reconciling until it stops",
                    extra={"rival": rival.describe()},
                )
                await self._event(rival)
        return found

    async def wait_clear(self, stop: asyncio.Event, blocked: Callable[[], None]) -> bool:
        """Return True once no rival leads (False if stopped first); `blocked` is called while one does."""
        while not stop.is_set():
            if not await self.find():
                if self.reported:
                    log.info("no other operator leads any more: reconciling")
                    self.reported.clear()
                return True
            blocked()
            await _sleep_or_stop(stop, RETRY_PERIOD)
        return False

    async def watch(self) -> None:
        """Raise RivalOperator as soon as a rival appears while this operator reconciles."""
        while True:
            await asyncio.sleep(RIVAL_CHECK_SECONDS)
            found = await self.find()
            if found:
                raise RivalOperator(found[0].describe())

    async def _event(self, rival: Rival) -> None:
        note = (
            f"raykopf ({self.identity}) does not reconcile while this Lease's holder leads: both would "
            f"manage the same Ray objects. Stop one of the two operators, or give them disjoint namespaces."
        )
        body = build_event(
            rival.lease,
            "Lease",
            "Warning",
            "OperatorConflict",
            note,
            instance=self.identity,
            now=datetime.now(UTC),
        )
        body["regarding"]["apiVersion"] = "coordination.k8s.io/v1"
        try:
            await self.client.create(f"/apis/events.k8s.io/v1/namespaces/{rival.namespace}/events", body)
        except (TimeoutError, ApiError, OSError, aiohttp.ClientError) as error:
            log.warning("could not post the OperatorConflict event", extra={"error": str(error)})


# A rival that starts leading is seen within a Lease duration, the time a standby also waits before
# it takes a silent leader's Lease (a list every 15 s: 4 requests a minute at rest).
RIVAL_CHECK_SECONDS = float(LEASE_DURATION)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
