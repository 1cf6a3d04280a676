"""The dashboard client and the background poller against a fake of Ray's job REST API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from raykopf.k8s.dashboard import MAX_ANSWER_BYTES, Dashboard, DashboardError, DirectTransport, JobTracker
from raykopf.k8s.serve import ServeTracker, Target


class FakeRay:
    """Ray's answers as measured (ray-runtime.md §3): 404 for unknown ids, 500 for a duplicate id."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.posts: list[dict[str, Any]] = []
        self.stopped: list[str] = []
        self.serve: dict[str, Any] = {}
        self.garbage: dict[str, str] = {}  # job id -> what the dashboard answers instead of JSON
        self.paths: list[str] = []

    async def get(self, request: web.Request) -> web.Response:
        self.paths.append(request.raw_path)
        if request.match_info["id"] in self.garbage:
            return web.Response(text=self.garbage[request.match_info["id"]])
        if request.match_info["id"] == "endless":
            response = web.StreamResponse()
            await response.prepare(request)
            for _ in range(5 * 1024):  # 5 MiB, no Content-Length
                await response.write(b"x" * 1024)
            return response
        job = self.jobs.get(request.match_info["id"])
        if job is None:
            return web.Response(status=404, text=f"Job {request.match_info['id']} does not exist")
        return web.json_response(job)

    async def post(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.posts.append(body)
        if body["submission_id"] in self.jobs:
            text = f"ValueError: Job with submission_id {body['submission_id']} already exists. Please use a different submission_id."
            return web.Response(status=500, text=text)
        self.jobs[body["submission_id"]] = {"status": "PENDING", "message": "Job has not started yet."}
        return web.json_response({"submission_id": body["submission_id"]})

    async def serve_put(self, request: web.Request) -> web.Response:
        config = await request.json()
        if "bad" in json.dumps(config):
            return web.Response(status=400, text="TypeError: ServeDeploySchema: unexpected field 'bad'")
        self.serve = {a["name"]: {"status": "DEPLOYING"} for a in config["applications"]}
        return web.Response(status=200)

    async def serve_get(self, request: web.Request) -> web.Response:
        assert request.query["api_type"] == "declarative"
        return web.json_response({"applications": self.serve, "proxies": {}})

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="success")

    async def stop(self, request: web.Request) -> web.Response:
        self.stopped.append(request.match_info["id"])
        return web.json_response({"stopped": True})


async def serve(ray: FakeRay) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/api/jobs/{id}", ray.get)
    app.router.add_post("/api/jobs/", ray.post)
    app.router.add_post("/api/jobs/{id}/stop", ray.stop)
    app.router.add_put("/api/serve/applications/", ray.serve_put)
    app.router.add_get("/api/serve/applications/", ray.serve_get)
    app.router.add_get("/-/healthz", ray.healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def run(check: Callable[[FakeRay, str, Dashboard], Awaitable[None]]) -> None:
    async def main() -> None:
        ray = FakeRay()
        dashboard = Dashboard(DirectTransport())
        try:
            async for address in serve(ray):
                await check(ray, address, dashboard)
        finally:
            await dashboard.transport.close()

    asyncio.run(main())


def test_missing_job_is_none_submit_is_idempotent_and_stop_is_sent() -> None:
    async def check(ray: FakeRay, address: str, dashboard: Dashboard) -> None:
        assert await dashboard.job(address, "j-1") is None
        body = {"entrypoint": "python x.py", "submission_id": "j-1"}
        await dashboard.submit(address, body)
        await dashboard.submit(address, body)  # Ray's 500 "already exists" counts as submitted
        assert len(ray.posts) == 2
        assert len(ray.jobs) == 1
        assert (await dashboard.job(address, "j-1") or {})["status"] == "PENDING"
        await dashboard.stop(address, "j-1")
        assert ray.stopped == ["j-1"]

    run(check)


def test_unreachable_dashboard_raises_dashboard_error() -> None:
    async def check(ray: FakeRay, address: str, dashboard: Dashboard) -> None:
        with pytest.raises(DashboardError, match="Connect"):
            await dashboard.job("127.0.0.1:1", "j-1")

    run(check)


def test_tracker_wakes_the_rayjob_on_each_change_and_only_then() -> None:
    async def check(ray: FakeRay, address: str, dashboard: Dashboard) -> None:
        woken: list[Any] = []
        tracker = JobTracker(dashboard, woken.append, interval=0.05)
        key = ("ns", "job")
        tracker.track(key, address, "j-1")
        await asyncio.sleep(0.3)
        probe = tracker.probe(key, address, "j-1")
        assert probe is not None
        assert probe.info is None
        assert probe.error is None
        assert woken == [key]  # the first answer (404), then nothing while it stays the same
        tracker.submit(key, address, {"entrypoint": "x", "submission_id": "j-1"})
        await asyncio.sleep(0.3)
        assert (tracker.probe(key, address, "j-1") or None) is not None
        assert ray.jobs["j-1"]["status"] == "PENDING"
        assert woken.count(key) == 2
        ray.jobs["j-1"] = {"status": "SUCCEEDED", "message": "Job finished successfully."}
        await asyncio.sleep(0.3)
        assert woken.count(key) == 3
        assert tracker.probe(key, address, "other-id") is None  # an answer about another job is not used
        tracker.untrack(key)
        await tracker.close()

    run(check)


def test_tracker_records_since_when_the_dashboard_fails() -> None:
    async def check(ray: FakeRay, address: str, dashboard: Dashboard) -> None:
        woken: list[Any] = []
        tracker = JobTracker(dashboard, woken.append, interval=0.05)
        tracker.track(("ns", "job"), "127.0.0.1:1", "j-1")
        await asyncio.sleep(0.3)
        probe = tracker.probe(("ns", "job"), "127.0.0.1:1", "j-1")
        assert probe is not None
        assert probe.error is not None
        assert probe.failing_since is not None
        first = probe.failing_since
        await asyncio.sleep(0.3)
        later = tracker.probe(("ns", "job"), "127.0.0.1:1", "j-1")
        assert later is not None
        assert later.failing_since == first
        assert len(woken) == 1
        await tracker.close()

    run(check)


def test_serve_tracker_puts_polls_and_remembers_what_ray_refused() -> None:
    async def check(ray: FakeRay, address: str, dashboard: Dashboard) -> None:
        woken: list[Any] = []
        refused: list[tuple[Any, str, str]] = []
        tracker = ServeTracker(dashboard, woken.append, lambda *r: refused.append(r))
        key = ("ns", "svc")
        host, port = address.split(":")
        tracker.keep(key, {"c1": Target(address, "ns", "head", host, int(port))})
        await asyncio.sleep(0.2)
        probe = tracker.probes(key)["c1"]
        assert probe.applications == {}
        assert probe.proxy_healthy
        tracker.put(key, "c1", address, {"applications": [{"name": "hello"}]})
        # In flight already counts as given: the next reconcile neither resends nor announces it again.
        assert tracker.submitted_configs(key) == {"c1": json.dumps({"applications": [{"name": "hello"}]})}
        await asyncio.sleep(1.3)
        assert tracker.submitted_configs(key) == {"c1": json.dumps({"applications": [{"name": "hello"}]})}
        assert tracker.probes(key)["c1"].applications == {"hello": {"status": "DEPLOYING"}}
        tracker.put(key, "c1", address, {"applications": [{"name": "hello", "bad": 1}]})
        await asyncio.sleep(0.2)
        assert refused
        assert refused[0][:2] == (key, "c1")
        assert "unexpected field" in refused[0][2]
        assert list(tracker.rejected_configs(key)) == ["c1"]
        tracker.forget(key)
        assert not tracker.rejected_configs(key)
        assert not tracker.probes(key)
        await tracker.close()

    run(check)


def test_a_dashboard_answer_that_is_not_a_json_object_or_too_large_is_a_dashboard_error() -> None:
    async def check(ray: FakeRay, address: str, dashboard: Dashboard) -> None:
        ray.garbage = {"html": "<html>proxy error</html>", "list": "[1, 2]"}
        with pytest.raises(DashboardError, match="not JSON: '<html>proxy error</html>'"):
            await dashboard.job(address, "html")
        with pytest.raises(DashboardError, match="expected a JSON object, got list"):
            await dashboard.job(address, "list")
        with pytest.raises(DashboardError, match=f"more than {MAX_ANSWER_BYTES} bytes"):
            await dashboard.job(address, "endless")

    run(check)


def test_the_poller_outlives_answers_it_cannot_read() -> None:
    async def check(ray: FakeRay, address: str, dashboard: Dashboard) -> None:
        ray.garbage = {"j-1": "not json"}
        tracker = JobTracker(dashboard, lambda key: None, interval=0.05)
        tracker.track(("ns", "job"), address, "j-1")
        await asyncio.sleep(0.2)
        probe = tracker.probe(("ns", "job"), address, "j-1")
        assert probe is not None
        assert "not JSON" in (probe.error or "")
        ray.garbage = {}
        ray.jobs["j-1"] = {"status": "RUNNING"}
        for _ in range(100):  # the failing poll backs off (doubling from 0.05 s); it still polls
            probe = tracker.probe(("ns", "job"), address, "j-1")
            if probe is not None and probe.info is not None:
                break
            await asyncio.sleep(0.05)
        assert probe is not None
        assert probe.info == {"status": "RUNNING"}
        await tracker.close()

    run(check)


def test_a_job_id_stays_one_path_segment() -> None:
    async def check(ray: FakeRay, address: str, dashboard: Dashboard) -> None:
        assert await dashboard.job(address, "../../api/v1/secrets") is None
        assert ray.paths == ["/api/jobs/..%2F..%2Fapi%2Fv1%2Fsecrets"]

    run(check)
