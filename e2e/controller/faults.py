"""A fault-injecting proxy in front of the local cluster's kube-apiserver: the operator under test is
given a kubeconfig that points here, and a test says which request fails and how.

A fault either answers in the apiserver's place (the request never arrives) or lets the request
through and answers with an error anyway (it happened, but the operator cannot know): the second is
what makes an operator create something twice. Watches are streamed through; a fault can answer a
watch with 410 Gone or cut it after a number of events.
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web

# Hop-by-hop headers, and what aiohttp sets itself.
DROPPED_HEADERS = {
    "host",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
}


@dataclass
class Fault:
    """Requests whose method and path (with the query) match fail `times` times (-1: always)."""

    method: str
    path: str
    """A regular expression searched in the path with its query."""
    status: int = 500
    after: bool = False
    """True: the request reaches the apiserver first (it took effect); the answer is the error."""
    times: int = 1
    retry_after: int | None = None
    cut_watch_after: int | None = None
    """For a watch: pass this many events through, then end the stream (a dropped connection)."""
    delay: float = 0.0
    """Seconds to hold the request before anything else (a slow apiserver)."""
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return self.times != 0 and method == self.method and re.search(self.path, path) is not None


@dataclass
class Seen:
    method: str
    path: str
    status: int
    faulted: bool
    at: float
    """When the request arrived (monotonic)."""


@dataclass
class FaultProxy:
    upstream: str
    context: ssl.SSLContext
    faults: list[Fault] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _ready: threading.Event = field(default_factory=threading.Event)

    # -- what tests call (from their own thread) -----------------------------------------------------
    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.seen.clear()

    def requests(self, method: str, pattern: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.method == method and re.search(pattern, s.path)]

    def kubeconfig(self, admin: Path, into: Path) -> Path:
        """`admin` with its server replaced by this proxy (plain HTTP on the loopback)."""
        config = yaml.safe_load(admin.read_text())
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = f"http://127.0.0.1:{self.port}"
        into.write_text(yaml.safe_dump(config))
        return into

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault proxy did not start")

    def stop(self) -> None:
        """Close every connection, both ways, then the proxy's own loop."""
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = None

    # -- the proxy -----------------------------------------------------------------------------------
    def _take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.times -= 1 if fault.times > 0 else 0
                    fault.hits += 1
                    return fault
        return None

    def _record(self, method: str, path: str, status: int, faulted: bool, at: float) -> None:
        with self._lock:
            self.seen.append(Seen(method, path, status, faulted, at))

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self) -> None:
        connector = aiohttp.TCPConnector(ssl=self.context, limit=0)
        self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _shutdown(self) -> None:
        await self._runner.cleanup()
        await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method, path, arrived = request.method, request.path_qs, time.monotonic()
        fault = self._take(method, path)
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        failing = fault is not None and fault.cut_watch_after is None and fault.delay == 0
        if failing and fault is not None and not fault.after:
            self._record(method, path, fault.status, True, arrived)
            return _status(fault)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in DROPPED_HEADERS}
        body = await request.read()
        async with self._session.request(
            method, self.upstream + path, data=body or None, headers=headers, auto_decompress=True
        ) as upstream:
            if failing and fault is not None:
                await upstream.read()
                self._record(method, path, fault.status, True, arrived)
                return _status(fault)
            self._record(method, path, upstream.status, fault is not None, arrived)
            out_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in DROPPED_HEADERS}
            if "watch=1" not in path and "watch=true" not in path:
                return web.Response(status=upstream.status, body=await upstream.read(), headers=out_headers)
            response = web.StreamResponse(status=upstream.status, headers=out_headers)
            await response.prepare(request)
            events = 0
            async for line in upstream.content:
                await response.write(line)
                events += 1
                if (
                    fault is not None
                    and fault.cut_watch_after is not None
                    and events >= fault.cut_watch_after
                ):
                    break
            await response.write_eof()
            return response


def _status(fault: Fault) -> web.Response:
    reasons = {
        409: "Conflict",
        410: "Expired",
        429: "TooManyRequests",
        500: "InternalError",
        503: "ServiceUnavailable",
    }
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": f"injected by the fault proxy ({fault.status})",
        "reason": reasons.get(fault.status, "InternalError"),
        "code": fault.status,
    }
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    return web.json_response(body, status=fault.status, headers=headers)


def proxy_for(admin: Path, scratch: Path) -> FaultProxy:
    """A started proxy to the apiserver named in the admin kubeconfig, as that admin."""
    config = yaml.safe_load(admin.read_text())
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    context = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
    )
    cert, key = scratch / "proxy-client.crt", scratch / "proxy-client.key"
    cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
    key.write_bytes(base64.b64decode(user["client-key-data"]))
    context.load_cert_chain(str(cert), str(key))
    proxy = FaultProxy(cluster["server"], context)
    proxy.start()
    return proxy
