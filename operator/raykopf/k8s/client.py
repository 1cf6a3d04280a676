"""A small asyncio Kubernetes client (operator, node agent, tests): JSON dicts in, JSON dicts out."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from raykopf.config import in_cluster_server
from raykopf.k8s.credentials import Credentials, Kubeconfig, ServiceAccount, SharedCredentials, Static


class ApiError(Exception):
    """A refused request; its text is the apiserver's own words, e.g. `403 Forbidden: rayclusters.ray.io
    "x" is forbidden: exceeded quota: ...` (the whole body only when it is not a Status)."""

    def __init__(self, status: int, body: str, retry_after: float | None = None) -> None:
        self.status = status
        self.body = body
        self.retry_after = retry_after
        """Seconds the apiserver asked to wait (its Retry-After header, on a 429 or 503)."""
        decoded = _status_object(body)
        self.message = str(decoded["message"]) if "message" in decoded else body[:300]
        """The apiserver's own words (a Status object's `message`), else the start of the body."""
        reason = f" {decoded['reason']}" if isinstance(decoded.get("reason"), str) else ""
        super().__init__(f"{status}{reason}: {self.message}"[:1000])
        causes = (
            (decoded.get("details") or {}).get("causes") if isinstance(decoded.get("details"), dict) else None
        )
        self.namespace_terminating = any(
            # A StatusCause's type goes on the wire as `reason`.
            isinstance(cause, dict) and cause.get("reason") == "NamespaceTerminating"
            for cause in causes or []
        )
        """A create refused because its namespace is being deleted: it can never succeed."""


def _status_object(body: str) -> dict[str, Any]:
    try:
        decoded = decode(body)
    except ValueError:
        return {}
    if not isinstance(decoded, dict) or not isinstance(decoded.get("message", ""), str):
        return {}
    return decoded


SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class RateLimit:
    """client-go's token bucket (--qps/--burst): `qps` requests a second on average, `burst` at once.
    Watches are not counted, as in client-go. qps <= 0 means no limit."""

    def __init__(self, qps: float, burst: int) -> None:
        self.qps, self.burst = qps, max(1, burst)
        self._tokens, self._at = float(self.burst), time.monotonic()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if self.qps <= 0:
            return
        async with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.qps)
            self._at = now
            if self._tokens < 1:
                await asyncio.sleep((1 - self._tokens) / self.qps)
                self._at = time.monotonic()
                self._tokens = 1
            self._tokens -= 1

    def spare(self) -> bool:
        """Whether at least half the burst is unused: nothing is being created in bulk right now.
        Without a limit there is no telling, so never."""
        if self.qps <= 0:
            return False
        return min(self.burst, self._tokens + (time.monotonic() - self._at) * self.qps) >= self.burst / 2


class AnswerTooLarge(Exception):
    pass


async def read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, or AnswerTooLarge once it passes `limit` bytes (read no further: a server that
    streams without end costs `limit` bytes of memory, no more)."""
    if response.content_length is not None and response.content_length > limit:
        raise AnswerTooLarge(f"the answer is {response.content_length} bytes, more than {limit}")
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(65536):
        size += len(chunk)
        if size > limit:
            raise AnswerTooLarge(f"the answer is more than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _retry_after(header: str | None) -> float | None:
    """Retry-After in seconds (the apiserver sends whole seconds; an HTTP date is not used by it)."""
    try:
        return max(float(header), 0.0) if header else None
    except ValueError:
        return None


def resource_of(path: str) -> str:
    """The resource an API path names, with its subresource: `pods`, `rayclusters/status`, `events`."""
    parts = path.split("?")[0].strip("/").split("/")
    parts = parts[2:] if parts[0] == "api" else parts[3:]
    if len(parts) > 2 and parts[0] == "namespaces":
        parts = parts[2:]
    return "/".join(parts[0:1] + parts[2:3])


MAX_CONNECTIONS = 50
WATCHES = 10  # long-lived watch streams get pool connections of their own
TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=30)
WATCH_SECONDS = 300  # the apiserver ends each watch after this; the informer resumes it
# A watch connection that dies without a FIN or RST would otherwise be read forever: no byte for
# longer than the server's own end of the watch means it is gone.
WATCH_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=WATCH_SECONDS + 30)


class KubeClient:
    """aiohttp rather than httpx: httpcore's pool re-checks every connection for every request, which
    was a third of the operator's CPU while it created thousands of Pods."""

    def __init__(self, credentials: SharedCredentials, rate: RateLimit | None = None) -> None:
        self.credentials = credentials
        self.rate = rate or RateLimit(0, 1)
        self.observe: Callable[[str, str, int], None] | None = None
        """Called with (method, resource, HTTP code) for every response, e.g. to count requests."""
        self._session: aiohttp.ClientSession | None = None
        # Requests wait here rather than in the connector, so a burst of creates queues in one place.
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)

    @property
    def _http(self) -> aiohttp.ClientSession:
        # Created on first use: a session belongs to the running event loop.
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS + WATCHES)
            self._session = aiohttp.ClientSession(connector=connector, timeout=TIMEOUT)
        return self._session

    @classmethod
    def from_kubeconfig(
        cls, path: Path | list[Path], rate: RateLimit | None = None, *, context: str | None = None
    ) -> KubeClient:
        """A kubeconfig (several: merged as kubectl merges $KUBECONFIG), read on first use."""
        return cls(SharedCredentials(Kubeconfig(path if isinstance(path, list) else [path], context)), rate)

    @classmethod
    def in_cluster(cls, rate: RateLimit | None = None, account: Path = SERVICE_ACCOUNT) -> KubeClient:
        """The Pod's service account: its token (re-read as kubelet rotates it) and the cluster's CA."""
        server = in_cluster_server()
        if server is None or not (account / "token").exists():
            raise RuntimeError(
                "not in a cluster (no KUBERNETES_SERVICE_HOST/PORT or service-account token): pass --kubeconfig"
            )
        return cls(SharedCredentials(ServiceAccount(server, account)), rate)

    @classmethod
    def to(cls, server: str) -> KubeClient:
        """A server without credentials (plain HTTP in tests)."""
        return cls(SharedCredentials(Static(Credentials(server.rstrip("/")))))

    def sharing_credentials(self, rate: RateLimit | None = None) -> KubeClient:
        """Another client (its own connections and rate) with this one's credentials, its requests
        counted where this one's are."""
        other = KubeClient(self.credentials, rate)
        other.observe = self.observe
        return other

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        data = None if body is None else encode(body)
        status, content, retry_after = await self._send(
            method, path, data=data, params=params, content_type=content_type
        )
        if status >= 400:
            raise ApiError(status, content.decode(errors="replace"), retry_after)
        result: dict[str, Any] = decode(content) if content else {}
        return result

    async def raw(
        self,
        method: str,
        path: str,
        *,
        data: bytes | None = None,
        params: dict[str, Any] | None = None,
        content_type: str = "application/json",
        timeout: float | None = None,
        limit: int | None = None,
    ) -> tuple[int, bytes]:
        """Any request, e.g. through the apiserver's service proxy: the status code and the body
        (AnswerTooLarge beyond `limit` bytes)."""
        status, body, _ = await self._send(
            method, path, data=data, params=params, content_type=content_type, timeout=timeout, limit=limit
        )
        return status, body

    async def _send(
        self,
        method: str,
        path: str,
        *,
        data: bytes | None,
        params: dict[str, Any] | None,
        content_type: str,
        timeout: float | None = None,
        limit: int | None = None,
    ) -> tuple[int, bytes, float | None]:
        deadline = TIMEOUT if timeout is None else aiohttp.ClientTimeout(total=timeout)
        credentials = await self.credentials.current()
        for attempt in (1, 2):
            headers = {"Content-Type": content_type} if data is not None else {}
            headers.update(credentials.headers())
            await self.rate.wait()
            async with (
                self._slots,
                self._http.request(
                    method,
                    credentials.server + path,
                    data=data,
                    params=_query(params),
                    headers=headers,
                    timeout=deadline,
                    ssl=credentials.ssl_context,
                    proxy=credentials.proxy,
                ) as response,
            ):
                if self.observe is not None:
                    self.observe(method, resource_of(path), response.status)
                body = await response.read() if limit is None else await read_bounded(response, limit)
                if response.status == 401 and attempt == 1:
                    # Expired or revoked: load them again (a plugin runs again) and try once more.
                    credentials = await self.credentials.renew(credentials)
                    continue
                return response.status, body, _retry_after(response.headers.get("Retry-After"))
        raise AssertionError("unreachable")

    async def get(self, path: str, **params: Any) -> dict[str, Any] | None:
        try:
            return await self.request("GET", path, params=params or None)
        except ApiError as error:
            if error.status == 404:
                return None
            raise

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.request("POST", path, body=body)

    async def merge_patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.request("PATCH", path, body=body, content_type="application/merge-patch+json")

    async def strategic_patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.request(
            "PATCH", path, body=body, content_type="application/strategic-merge-patch+json"
        )

    async def delete(self, path: str, body: dict[str, Any] | None = None) -> None:
        try:
            await self.request("DELETE", path, body=body)
        except ApiError as error:
            if error.status != 404:
                raise

    async def watch(self, path: str, resource_version: str, **params: Any) -> AsyncIterator[dict[str, Any]]:
        """Watch events after `resource_version` until the server ends the stream."""
        query = {
            **params,
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_SECONDS),
        }
        credentials = await self.credentials.current()
        async with self._http.get(
            credentials.server + path,
            params=_query(query),
            timeout=WATCH_TIMEOUT,
            headers=credentials.headers(),
            ssl=credentials.ssl_context,
            proxy=credentials.proxy,
        ) as response:
            if response.status == 401:
                await self.credentials.renew(credentials)  # the caller's next watch uses the new ones
            if response.status >= 400:
                raise ApiError(response.status, (await response.read()).decode(errors="replace"))
            # One JSON document per line; lines can be far longer than aiohttp's readline limit.
            pending = bytearray()
            async for chunk in response.content.iter_any():
                pending += chunk
                if b"\n" not in chunk:
                    continue
                *lines, rest = bytes(pending).split(b"\n")
                pending = bytearray(rest)
                for line in lines:
                    if line.strip():
                        yield decode(line)


def decode(data: bytes | str) -> Any:
    """JSON from the apiserver. orjson stops at 1,024 levels of nesting; the apiserver stores deeper
    objects (a hostile spec), and those must still be read to be reported, so the standard library
    reads what orjson refuses (and raises ValueError for what is not JSON at all)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def encode(body: Any) -> bytes:
    """A request body as JSON. orjson rather than the standard library throughout the client: it
    decodes a Pod watch event 2.5 times faster (`python -m bench.hotpaths`)."""
    return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)


def _query(params: dict[str, Any] | None) -> dict[str, str] | None:
    return None if params is None else {key: str(value) for key, value in params.items()}
