"""KubeClient against a small local HTTP server: compressed lists, watch streams, errors."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from raykopf.k8s import client as client_module
from raykopf.k8s import credentials as credentials_module
from raykopf.k8s.client import ApiError, KubeClient, RateLimit, resource_of
from raykopf.k8s.credentials import Credentials, ServiceAccount, SharedCredentials
from tests.unit.k8s.server import client_for

BIG_LIST = {
    "metadata": {"resourceVersion": "7"},
    "items": [{"metadata": {"name": f"p{i}"}} for i in range(9000)],
}
# One event far longer than aiohttp's 64 KiB line limit, then two short ones in a single chunk.
LONG = {"type": "ADDED", "object": {"metadata": {"name": "long", "annotations": {"a": "x" * 200_000}}}}
SHORT = [{"type": "MODIFIED", "object": {"metadata": {"name": n}}} for n in ("one", "two")]


async def compressed_list(request: web.Request) -> web.Response:
    # The apiserver gzips responses over 128 KiB when the client accepts it.
    assert "gzip" in request.headers.get("Accept-Encoding", "")
    body = gzip.compress(json.dumps(BIG_LIST).encode())
    return web.Response(body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})


async def watch(request: web.Request) -> web.StreamResponse:
    assert request.query["watch"] == "1"
    assert request.query["resourceVersion"] == "7"
    assert request.query["labelSelector"] == "ray.io/cluster"
    response = web.StreamResponse()
    await response.prepare(request)
    line = json.dumps(LONG).encode() + b"\n"
    for start in range(0, len(line), 4096):  # the long event arrives in many pieces
        await response.write(line[start : start + 4096])
    await response.write(b"".join(json.dumps(e).encode() + b"\n" for e in SHORT))
    await response.write_eof()
    return response


async def only_t2(request: web.Request) -> web.Response:
    if request.headers.get("Authorization") != "Bearer t2":
        return web.json_response({"kind": "Status", "message": "Unauthorized", "code": 401}, status=401)
    return web.json_response({"authorization": request.headers["Authorization"]})


async def only_t1(request: web.Request) -> web.Response:
    if request.headers.get("Authorization") != "Bearer t1":
        return web.json_response({"kind": "Status", "message": "Unauthorized", "code": 401}, status=401)
    return web.json_response({})


async def whoami(request: web.Request) -> web.Response:
    return web.json_response({"authorization": request.headers.get("Authorization", "")})


async def missing(request: web.Request) -> web.Response:
    return web.json_response({"kind": "Status", "reason": "NotFound"}, status=404)


async def conflict(request: web.Request) -> web.Response:
    assert request.headers["Content-Type"] == "application/merge-patch+json"
    assert await request.json() == {"metadata": {"labels": {"a": "b"}}}
    return web.json_response({"kind": "Status", "reason": "Conflict", "message": "modified"}, status=409)


async def throttled(request: web.Request) -> web.Response:
    body = {"kind": "Status", "reason": "TooManyRequests", "message": "slow down"}
    return web.json_response(body, status=429, headers={"Retry-After": "7"})


async def silent_watch(request: web.Request) -> web.StreamResponse:
    """A watch whose connection stays open and says nothing, as one cut off without a FIN would."""
    response = web.StreamResponse()
    await response.prepare(request)
    await response.write(b"")  # the headers go out
    await asyncio.sleep(3)  # far beyond the test's bound (and the server's shutdown waits for it)
    return response


async def serve() -> AsyncIterator[KubeClient]:
    app = web.Application()
    app.router.add_get("/api/v1/throttled", throttled)
    app.router.add_get("/api/v1/silent", silent_watch)
    app.router.add_get("/api/v1/pods", compressed_list)
    app.router.add_get("/api/v1/watched", watch)
    app.router.add_get("/api/v1/missing", missing)
    app.router.add_get("/whoami", whoami)
    app.router.add_get("/only-t2", only_t2)
    app.router.add_get("/only-t1", only_t1)
    app.router.add_patch("/api/v1/conflict", conflict)
    async for client in client_for(app):
        yield client


def run(check: Any, **options: Any) -> None:
    async def main() -> None:
        async for client in serve():
            for name, value in options.items():
                setattr(client, name, value)
            await check(client)

    asyncio.run(main())


def test_compressed_list_is_decoded() -> None:
    async def check(client: KubeClient) -> None:
        listing = await client.request("GET", "/api/v1/pods", params={"limit": 500})
        assert listing == BIG_LIST

    run(check)


def test_watch_yields_each_line_whole_however_it_is_chunked() -> None:
    async def check(client: KubeClient) -> None:
        events = [e async for e in client.watch("/api/v1/watched", "7", labelSelector="ray.io/cluster")]
        assert events == [LONG, *SHORT]

    run(check)


def test_get_of_a_missing_object_is_none_and_other_errors_raise_with_status() -> None:
    async def check(client: KubeClient) -> None:
        seen: list[tuple[str, str, int]] = []
        client.observe = lambda *response: seen.append(response)
        assert await client.get("/api/v1/missing") is None
        assert seen == [("GET", "missing", 404)]
        with pytest.raises(ApiError) as error:
            await client.merge_patch("/api/v1/conflict", {"metadata": {"labels": {"a": "b"}}})
        assert error.value.status == 409
        assert "modified" in error.value.body

    run(check)


def test_a_service_account_token_is_sent_and_reread_as_kubelet_rotates_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    monkeypatch.setattr(credentials_module, "TOKEN_REREAD_SECONDS", 0)

    async def check(client: KubeClient) -> None:
        server = (await client.credentials.current()).server
        client.credentials = SharedCredentials(ServiceAccount(server, tmp_path))
        assert await client.request("GET", "/whoami") == {"authorization": "Bearer first"}
        token.write_text("second")
        assert await client.request("GET", "/whoami") == {"authorization": "Bearer second"}

    run(check)


def test_a_client_sharing_credentials_is_counted_with_the_first() -> None:
    """The Lease loop's own client: its renewals are the operator's requests too (metrics, benchmarks)."""

    async def check(client: KubeClient) -> None:
        seen: list[tuple[str, str, int]] = []
        client.observe = lambda *response: seen.append(response)
        other = client.sharing_credentials()
        assert await other.get("/api/v1/missing") is None
        await other.close()
        assert seen == [("GET", "missing", 404)]

    run(check)


def test_a_refused_token_is_loaded_again_once_and_the_request_retried() -> None:
    """A 401 (an expired exec-plugin token, a revoked one) loads the credentials again, once, for every
    client sharing them; a second 401 is the caller's."""

    class Rotating:
        def __init__(self, server: str) -> None:
            self.server, self.loads = server, 0

        async def load(self) -> Credentials:
            self.loads += 1
            return Credentials(self.server, authorization=f"Bearer t{self.loads}")

    async def check(client: KubeClient) -> None:
        source = Rotating((await client.credentials.current()).server)
        client.credentials = SharedCredentials(source)
        other = client.sharing_credentials()
        assert await client.request("GET", "/only-t2") == {"authorization": "Bearer t2"}
        assert source.loads == 2
        assert await other.request("GET", "/only-t2") == {
            "authorization": "Bearer t2"
        }  # shared, not reloaded
        assert source.loads == 2
        await other.close()
        with pytest.raises(ApiError) as refused:
            await client.request("GET", "/only-t1")  # t2 refused, t3 refused: said, not looped
        assert refused.value.status == 401
        assert source.loads == 3

    run(check)


def test_in_cluster_needs_the_service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(RuntimeError, match="pass --kubeconfig"):
        KubeClient.in_cluster(account=tmp_path)


def test_the_rate_limit_allows_a_burst_then_qps() -> None:
    async def main() -> float:
        limit = RateLimit(qps=20, burst=5)
        started = time.monotonic()
        for _ in range(15):  # 5 at once, then 10 at 20/s
            await limit.wait()
        return time.monotonic() - started

    elapsed = asyncio.run(main())
    assert 0.45 <= elapsed < 1.5


def test_the_resource_of_a_path_is_named_with_its_subresource() -> None:
    assert resource_of("/api/v1/namespaces/ns/pods") == "pods"
    assert resource_of("/api/v1/namespaces/ns/pods/p-1?dryRun=All") == "pods"
    assert resource_of("/api/v1/namespaces/ns") == "namespaces"
    assert resource_of("/apis/ray.io/v1/namespaces/ns/rayclusters/rc/status") == "rayclusters/status"
    assert resource_of("/apis/ray.io/v1/rayclusters") == "rayclusters"
    assert resource_of("/apis/events.k8s.io/v1/namespaces/ns/events") == "events"
    assert resource_of("/api/v1/namespaces/ns/services/s:dashboard/proxy/api/jobs/") == "services/proxy"


def test_a_429_carries_the_apiservers_retry_after() -> None:
    async def check(client: KubeClient) -> None:
        with pytest.raises(ApiError) as error:
            await client.request("GET", "/api/v1/throttled")
        assert (error.value.status, error.value.retry_after) == (429, 7.0)

    run(check)


def test_a_watch_that_goes_silent_ends_instead_of_waiting_forever(monkeypatch: pytest.MonkeyPatch) -> None:
    assert client_module.WATCH_TIMEOUT.sock_read == 330  # the operator's: the server's 300 s, plus 30
    # Shortened here to keep the test fast.
    monkeypatch.setattr(client_module, "WATCH_TIMEOUT", aiohttp.ClientTimeout(sock_connect=5, sock_read=0.5))

    async def check(client: KubeClient) -> None:
        with pytest.raises(TimeoutError):
            async for _ in client.watch("/api/v1/silent", "1"):
                pass

    run(check)


def test_a_refusal_reads_as_the_apiservers_own_words() -> None:
    """What goes into Events and statuses: the Status object's reason and message, not its JSON."""
    body = json.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": 'rayclusters.ray.io "x" is forbidden: exceeded quota: q',
            "reason": "Forbidden",
            "code": 403,
        }
    )
    error = ApiError(403, body)
    assert str(error) == '403 Forbidden: rayclusters.ray.io "x" is forbidden: exceeded quota: q'
    assert error.message == 'rayclusters.ray.io "x" is forbidden: exceeded quota: q'
    assert str(ApiError(502, "<html>bad gateway</html>")) == "502: <html>bad gateway</html>"
    assert str(ApiError(500, '["not", "a", "status"]')) == '500: ["not", "a", "status"]'


def test_a_create_refused_because_the_namespace_is_terminating_is_told_apart() -> None:
    # The NamespaceLifecycle admission plugin's answer (k8s.io/apiserver, plugin/namespace/lifecycle).
    status = {
        "kind": "Status",
        "status": "Failure",
        "message": 'jobs.batch "ft-redis-cleanup" is forbidden: unable to create new content in namespace t '
        "because it is being terminated",
        "reason": "Forbidden",
        "details": {
            "name": "ft-redis-cleanup",
            "group": "batch",
            "kind": "jobs",
            "causes": [{"reason": "NamespaceTerminating", "message": "namespace t is being terminated"}],
        },
        "code": 403,
    }
    # metav1.StatusCause's Type is `json:"reason"`.
    assert ApiError(403, json.dumps(status)).namespace_terminating
    status["details"]["causes"][0]["reason"] = "FieldValueInvalid"  # type: ignore[index]
    assert not ApiError(403, json.dumps(status)).namespace_terminating
    assert not ApiError(403, '{"kind":"Status","message":"exceeded quota"}').namespace_terminating
    assert not ApiError(500, "not json").namespace_terminating
