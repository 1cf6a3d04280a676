"""KubeClient against a small local HTTP server: compressed lists, watch streams, errors."""

from __future__ import annotations

import asyncio
import gzip
import json
import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from raykopf.k8s.client import ApiError, KubeClient

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


async def missing(request: web.Request) -> web.Response:
    return web.json_response({"kind": "Status", "reason": "NotFound"}, status=404)


async def conflict(request: web.Request) -> web.Response:
    assert request.headers["Content-Type"] == "application/merge-patch+json"
    assert await request.json() == {"metadata": {"labels": {"a": "b"}}}
    return web.json_response({"kind": "Status", "reason": "Conflict", "message": "modified"}, status=409)


async def serve() -> AsyncIterator[KubeClient]:
    app = web.Application()
    app.router.add_get("/api/v1/pods", compressed_list)
    app.router.add_get("/api/v1/watched", watch)
    app.router.add_get("/api/v1/missing", missing)
    app.router.add_patch("/api/v1/conflict", conflict)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = KubeClient(f"http://127.0.0.1:{port}/", ssl.create_default_context())
    try:
        yield client
    finally:
        await client.close()
        await runner.cleanup()


def run(check: Any) -> None:
    async def main() -> None:
        async for client in serve():
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
        assert await client.get("/api/v1/missing") is None
        with pytest.raises(ApiError) as error:
            await client.merge_patch("/api/v1/conflict", {"metadata": {"labels": {"a": "b"}}})
        assert error.value.status == 409
        assert "modified" in error.value.body

    run(check)
