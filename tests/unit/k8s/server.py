"""A local aiohttp app and a KubeClient pointed at it, for the client-side unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from raykopf.k8s.client import KubeClient


async def client_for(app: web.Application) -> AsyncIterator[KubeClient]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = KubeClient.to(f"http://127.0.0.1:{port}")
    try:
        yield client
    finally:
        await client.close()
        await runner.cleanup()
