"""The Ray dashboard's job API, asked in the background: reconcile passes read the latest answer and
never wait on a dashboard (KubeRay calls it synchronously inside reconcile, so 100 running RayJobs
slow every other object down).

The address is KubeRay's `dashboardURL` (`<service>.<namespace>.svc.<domain>:<port>`). In a cluster it is
called directly; an operator outside the cluster (`--use-kubernetes-proxy`) goes through the apiserver's
service proxy instead, as KubeRay's flag of that name does."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from raykopf.k8s.client import AnswerTooLarge, KubeClient, read_bounded
from raykopf.reconcile.rayjob import Probe

log = logging.getLogger("raykopf")
TIMEOUT = 5.0
POLL_INTERVAL = 1.0
MAX_POLL_INTERVAL = 10.0  # a dashboard that does not answer is asked less and less often
MAX_POLLS = 20  # dashboard requests in flight at once, however many RayJobs run
DUPLICATE = "Please use a different submission_id"
# Dashboards belong to tenants: an answer is read up to this size, no further. A Serve status of a
# hundred applications is well under 1 MiB.
MAX_ANSWER_BYTES = 4 * 1024 * 1024


class DashboardError(Exception):
    pass


class RejectedError(DashboardError):
    """Ray answered, and refused the request (its message says why)."""


class Transport(Protocol):
    async def call(self, method: str, address: str, path: str, body: Any = None) -> tuple[int, bytes]: ...

    async def pod_call(self, namespace: str, pod: str, ip: str, port: int, path: str) -> tuple[int, bytes]:
        """A GET to a port of a Pod (the Serve proxy's health check)."""
        ...

    async def close(self) -> None: ...


class DirectTransport:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def call(self, method: str, address: str, path: str, body: Any = None) -> tuple[int, bytes]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT))
        try:
            async with self._session.request(method, f"http://{address}{path}", json=body) as response:
                return response.status, await read_bounded(response, MAX_ANSWER_BYTES)
        except (aiohttp.ClientError, TimeoutError, OSError, AnswerTooLarge) as error:
            raise DashboardError(f"{type(error).__name__}: {error}") from error

    async def pod_call(self, namespace: str, pod: str, ip: str, port: int, path: str) -> tuple[int, bytes]:
        return await self.call("GET", f"{ip}:{port}", path)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class ProxyTransport:
    """Through `/api/v1/namespaces/<ns>/services/<service>:dashboard/proxy` with the operator's credentials.
    `client` should be a client of its own: slow dashboards must not hold the connections that
    reconciling needs."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client

    async def call(self, method: str, address: str, path: str, body: Any = None) -> tuple[int, bytes]:
        host = address.split(":", 1)[0]
        service, namespace = host.split(".")[:2]
        data = None if body is None else json.dumps(body).encode()
        return await self._proxied(
            method, f"/api/v1/namespaces/{namespace}/services/{service}:dashboard/proxy{path}", data
        )

    async def pod_call(self, namespace: str, pod: str, ip: str, port: int, path: str) -> tuple[int, bytes]:
        return await self._proxied(
            "GET", f"/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy{path}", None
        )

    async def _proxied(self, method: str, path: str, data: bytes | None) -> tuple[int, bytes]:
        try:
            status, content = await self.client.raw(
                method, path, data=data, timeout=TIMEOUT, limit=MAX_ANSWER_BYTES
            )
        except (aiohttp.ClientError, TimeoutError, OSError, AnswerTooLarge) as error:
            raise DashboardError(f"{type(error).__name__}: {error}") from error
        if status in (502, 503) and b"Status" in content[:200]:
            raise DashboardError(
                f"the apiserver could not reach Ray: {content[:300].decode(errors='replace')}"
            )
        return status, content

    async def close(self) -> None:
        await self.client.close()


def _quoted(job_id: str) -> str:
    """One path segment, whatever the ID holds (validation refuses `/` and `..`; this is the second wall)."""
    return urllib.parse.quote(job_id, safe="")


def _json_object(content: bytes, what: str) -> dict[str, Any]:
    """A JSON object, or DashboardError: a tenant's dashboard may answer anything."""
    try:
        decoded = json.loads(content)
    except ValueError:
        raise DashboardError(f"{what}: not JSON: {content[:100].decode(errors='replace')!r}") from None
    if not isinstance(decoded, dict):
        raise DashboardError(f"{what}: expected a JSON object, got {type(decoded).__name__}")
    return decoded


class Dashboard:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def job(self, address: str, job_id: str) -> dict[str, Any] | None:
        status, content = await self.transport.call("GET", address, f"/api/jobs/{_quoted(job_id)}")
        if status == 404:
            return None
        if status != 200:
            raise DashboardError(
                f"GET /api/jobs/{job_id}: HTTP {status}: {content[:300].decode(errors='replace')}"
            )
        return _json_object(content, f"GET /api/jobs/{job_id}")

    async def submit(self, address: str, body: dict[str, Any]) -> None:
        """POST /api/jobs/; a job that already has this submission ID counts as submitted."""
        status, content = await self.transport.call("POST", address, "/api/jobs/", body)
        if status == 200 or (status == 500 and DUPLICATE.encode() in content):
            return
        raise DashboardError(f"POST /api/jobs/: HTTP {status}: {content[-500:].decode(errors='replace')}")

    async def serve_applications(self, address: str) -> dict[str, Any]:
        """`applications` of Serve's declarative API ({} when Serve runs nothing)."""
        status, content = await self.transport.call(
            "GET", address, "/api/serve/applications/?api_type=declarative"
        )
        if status != 200:
            raise DashboardError(
                f"GET /api/serve/applications/: HTTP {status}: {content[:300].decode(errors='replace')}"
            )
        applications = _json_object(content, "GET /api/serve/applications/").get("applications") or {}
        if not isinstance(applications, dict):
            raise DashboardError("GET /api/serve/applications/: `applications` is not an object")
        return applications

    async def put_serve_config(self, address: str, config: dict[str, Any]) -> None:
        status, content = await self.transport.call("PUT", address, "/api/serve/applications/", config)
        if status != 200:
            raise RejectedError(
                f"PUT /api/serve/applications/: HTTP {status}: {content[-500:].decode(errors='replace')}"
            )

    async def proxy_healthy(self, namespace: str, pod: str, ip: str, port: int) -> bool:
        try:
            status, content = await self.transport.pod_call(namespace, pod, ip, port, "/-/healthz")
        except DashboardError:
            return False
        return status == 200 and b"success" in content

    async def stop(self, address: str, job_id: str) -> None:
        status, content = await self.transport.call("POST", address, f"/api/jobs/{_quoted(job_id)}/stop")
        if status not in (200, 404):
            raise DashboardError(
                f"POST /api/jobs/{job_id}/stop: HTTP {status}: {content[:300].decode(errors='replace')}"
            )


@dataclass
class _Tracked:
    address: str
    job_id: str
    task: asyncio.Task[None]
    probe: Probe | None = None


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class JobTracker:
    """One small polling task per running RayJob; a changed answer wakes that RayJob's reconcile."""

    def __init__(
        self, dashboard: Dashboard, on_change: Callable[[Any], None], interval: float = POLL_INTERVAL
    ) -> None:
        self.dashboard = dashboard
        self.on_change = on_change
        self.interval = interval
        self._tracked: dict[Any, _Tracked] = {}
        self._slots = asyncio.Semaphore(MAX_POLLS)
        self._submissions: dict[Any, asyncio.Task[None]] = {}

    def probe(self, key: Any, address: str, job_id: str) -> Probe | None:
        tracked = self._tracked.get(key)
        if tracked is None or (tracked.address, tracked.job_id) != (address, job_id):
            return None
        return tracked.probe

    def track(self, key: Any, address: str, job_id: str) -> None:
        tracked = self._tracked.get(key)
        if tracked is not None and (tracked.address, tracked.job_id) == (address, job_id):
            return
        self.untrack(key)
        task = asyncio.create_task(self._poll(key, address, job_id), name=f"poll {key}")
        self._tracked[key] = _Tracked(address, job_id, task)

    def untrack(self, key: Any) -> None:
        tracked = self._tracked.pop(key, None)
        if tracked is not None:
            tracked.task.cancel()

    def submit(self, key: Any, address: str, body: dict[str, Any]) -> None:
        """HTTPMode: POST in the background (once at a time per RayJob), then look again at once."""
        running = self._submissions.get(key)
        if running is not None and not running.done():
            return
        self._submissions[key] = asyncio.create_task(self._submit(key, address, body))

    async def _submit(self, key: Any, address: str, body: dict[str, Any]) -> None:
        try:
            await self.dashboard.submit(address, body)
            log.info(
                "submitted Ray job", extra={"object": f"{key[0]}/{key[1]}", "job": body.get("submission_id")}
            )
        except DashboardError as error:
            log.warning(
                "Ray job submission failed", extra={"object": f"{key[0]}/{key[1]}", "error": str(error)}
            )
            await asyncio.sleep(self.interval * 2)
        tracked = self._tracked.get(key)
        if tracked is not None:  # poll again now rather than a full interval later
            self.untrack(key)
            self.track(key, tracked.address, tracked.job_id)

    async def _poll(self, key: Any, address: str, job_id: str) -> None:
        interval = self.interval
        while True:
            tracked = self._tracked.get(key)
            if tracked is None:
                return
            previous = tracked.probe
            try:
                async with self._slots:
                    info = await self.dashboard.job(address, job_id)
                probe = Probe(info)
                interval = self.interval
            except DashboardError as error:
                since = previous.failing_since if previous and previous.failing_since else _utcnow()
                probe = Probe(previous.info if previous else None, str(error)[:300], since)
                interval = min(interval * 2, MAX_POLL_INTERVAL)
            tracked.probe = probe
            if _changed(previous, probe):
                self.on_change(key)
            await asyncio.sleep(interval)

    async def stop_job(self, address: str, job_id: str) -> None:
        """Best effort (deletion of a running RayJob): never wedge the deletion on a dead dashboard."""
        with contextlib.suppress(DashboardError):
            await self.dashboard.stop(address, job_id)

    async def close(self) -> None:
        for key in list(self._tracked):
            self.untrack(key)
        for task in self._submissions.values():
            task.cancel()
        await self.dashboard.transport.close()


def _changed(previous: Probe | None, current: Probe) -> bool:
    if previous is None:
        return True
    if (previous.error is None) != (current.error is None):
        return True
    fields = ("status", "message", "start_time", "end_time")
    before = {k: (previous.info or {}).get(k) for k in fields} if previous.info is not None else None
    after = {k: (current.info or {}).get(k) for k in fields} if current.info is not None else None
    return before != after
