"""LeaderElector against a fake Lease API with resourceVersion conflicts, as the apiserver has."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from raykopf.k8s.client import KubeClient
from raykopf.k8s.leader import LeaderElector, LostLeadership
from tests.unit.k8s.server import client_for

PATH = "/apis/coordination.k8s.io/v1/namespaces/ops/leases"


class FakeLeases:
    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.version = 0
        self.writes: list[str] = []
        self.down = False
        self.hang = False
        self.reads = 0

    async def get(self, request: web.Request) -> web.Response:
        self.reads += 1
        while self.hang:  # an apiserver that takes the request and does not answer
            await asyncio.sleep(0.05)
        if self.down:
            return web.json_response({"reason": "ServiceUnavailable"}, status=503)
        if self.lease is None:
            return web.json_response({"reason": "NotFound"}, status=404)
        return web.json_response(self.lease)

    async def create(self, request: web.Request) -> web.Response:
        if self.lease is not None:
            return web.json_response({"reason": "AlreadyExists"}, status=409)
        return self._store(await request.json())

    async def replace(self, request: web.Request) -> web.Response:
        while self.hang:
            await asyncio.sleep(0.05)
        if self.down:
            return web.json_response({"reason": "ServiceUnavailable"}, status=503)
        body = await request.json()
        if self.lease is None or body["metadata"].get("resourceVersion") != str(self.version):
            return web.json_response({"reason": "Conflict"}, status=409)
        return self._store(body)

    def take(self, identity: str) -> None:
        """Another candidate's write, as the apiserver would store it."""
        assert self.lease is not None
        self._store(
            {
                **self.lease,
                "metadata": dict(self.lease["metadata"]),
                "spec": {**self.lease["spec"], "holderIdentity": identity},
            }
        )

    def _store(self, body: dict[str, Any]) -> web.Response:
        self.version += 1
        body["metadata"]["resourceVersion"] = str(self.version)
        self.lease = body
        self.writes.append(body["spec"]["holderIdentity"])
        return web.json_response(body)


async def serve(fake: FakeLeases) -> AsyncIterator[KubeClient]:
    app = web.Application()
    app.router.add_get(f"{PATH}/ray-operator-leader", fake.get)
    app.router.add_post(PATH, fake.create)
    app.router.add_put(f"{PATH}/ray-operator-leader", fake.replace)
    async for client in client_for(app):
        yield client


def elector(client: KubeClient, identity: str) -> LeaderElector:
    return LeaderElector(client, "ops", identity, duration=1, renew_deadline=0.5, retry_period=0.05)


def run(check: Any) -> FakeLeases:
    fake = FakeLeases()

    async def main() -> None:
        async for client in serve(fake):
            await check(client, fake)

    asyncio.run(main())
    return fake


def test_one_leads_the_other_waits_and_takes_over_at_once_when_released() -> None:
    async def check(client: KubeClient, fake: FakeLeases) -> None:
        a, b, stop = elector(client, "a"), elector(client, "b"), asyncio.Event()
        assert await a.acquire(stop)
        holding = asyncio.create_task(a.hold())
        waiting = asyncio.create_task(b.acquire(stop))
        await asyncio.sleep(0.5)  # less than the duration: b must still wait
        assert not waiting.done()
        holding.cancel()
        await a.release()
        started = asyncio.get_running_loop().time()
        assert await asyncio.wait_for(waiting, 2)
        assert asyncio.get_running_loop().time() - started < 0.5  # released: no need to wait it out
        assert fake.lease is not None
        assert fake.lease["spec"]["holderIdentity"] == "b"
        assert fake.lease["spec"]["leaseTransitions"] == 1

    fake = run(check)
    assert fake.writes[0] == "a"
    assert "b" not in fake.writes[: fake.writes.index("")]  # b never wrote while a held it


def test_a_holder_that_dies_is_replaced_after_the_lease_duration() -> None:
    async def check(client: KubeClient, fake: FakeLeases) -> None:
        a, b, stop = elector(client, "a"), elector(client, "b"), asyncio.Event()
        assert await a.acquire(stop)  # and then a never renews: it died
        started = asyncio.get_running_loop().time()
        assert await asyncio.wait_for(b.acquire(stop), 3)
        assert asyncio.get_running_loop().time() - started >= 1.0

    run(check)


def test_a_holder_that_cannot_renew_gives_up_after_the_renew_deadline() -> None:
    async def check(client: KubeClient, fake: FakeLeases) -> None:
        a, stop = elector(client, "a"), asyncio.Event()
        assert await a.acquire(stop)
        fake.down = True
        with pytest.raises(LostLeadership):
            await asyncio.wait_for(a.hold(), 3)
        assert not a.is_leader

    run(check)


def test_a_holder_whose_renewals_hang_gives_up_before_its_lease_can_be_taken() -> None:
    """A renewal that never answers is cut at the renew deadline: the holder stops before the Lease
    duration has passed, when a standby could take the Lease."""

    async def check(client: KubeClient, fake: FakeLeases) -> None:
        a, stop = elector(client, "a"), asyncio.Event()
        assert await a.acquire(stop)
        fake.hang = True
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(LostLeadership):
            await asyncio.wait_for(a.hold(), 5)
        assert loop.time() - started < 1.0  # the Lease duration (the renew deadline is 0.5 s)
        assert not a.is_leader
        fake.hang = False

    run(check)


def test_a_waiting_candidate_stops_when_asked() -> None:
    async def check(client: KubeClient, fake: FakeLeases) -> None:
        a, b, stop = elector(client, "a"), elector(client, "b"), asyncio.Event()
        assert await a.acquire(stop)
        holding = asyncio.create_task(a.hold())
        waiting = asyncio.create_task(b.acquire(stop))
        await asyncio.sleep(0.2)
        stop.set()
        assert await asyncio.wait_for(waiting, 1) is False
        holding.cancel()

    run(check)


def test_a_holder_renews_with_one_write_and_no_read() -> None:
    """client-go's renewal: the holder writes over the Lease it last wrote, it does not read it first
    (half the requests, and half the waiting on a loaded apiserver)."""

    async def check(client: KubeClient, fake: FakeLeases) -> None:
        a, stop = elector(client, "a"), asyncio.Event()
        assert await a.acquire(stop)
        reads, writes = fake.reads, len(fake.writes)
        holding = asyncio.create_task(a.hold())
        await asyncio.sleep(0.5)
        holding.cancel()
        assert len(fake.writes) - writes >= 5  # renewed about every 0.05 s
        assert fake.reads == reads

    run(check)


def test_a_holder_whose_event_loop_stalled_keeps_the_lease_nobody_took() -> None:
    """A stall longer than the renew deadline does not by itself cost the lead: the first renewal
    afterwards is conditional on the Lease being as this replica wrote it, and it is."""

    async def check(client: KubeClient, fake: FakeLeases) -> None:
        a, stop = elector(client, "a"), asyncio.Event()
        assert await a.acquire(stop)
        holding = asyncio.create_task(a.hold())
        await asyncio.sleep(0.1)
        time.sleep(0.7)  # the whole loop blocked past the renew deadline (0.5 s)
        writes = len(fake.writes)
        await asyncio.sleep(0.3)
        assert not holding.done()
        assert a.is_leader
        assert len(fake.writes) > writes
        assert a.loop_lag >= 0.5
        holding.cancel()

    run(check)


def test_a_holder_whose_event_loop_stalled_while_a_standby_took_the_lease_steps_down() -> None:
    async def check(client: KubeClient, fake: FakeLeases) -> None:
        a, stop = elector(client, "a"), asyncio.Event()
        assert await a.acquire(stop)
        holding = asyncio.create_task(a.hold())
        await asyncio.sleep(0.1)
        time.sleep(0.7)
        fake.take("b")  # meanwhile a standby saw the Lease go stale and took it
        with pytest.raises(LostLeadership, match="held by b"):
            await asyncio.wait_for(holding, 2)
        assert not a.is_leader
        assert fake.lease is not None
        assert fake.lease["spec"]["holderIdentity"] == "b"

    run(check)
