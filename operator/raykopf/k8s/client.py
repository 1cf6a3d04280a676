"""A small asyncio Kubernetes client for the node agent: JSON dicts in, JSON dicts out."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import yaml


class ApiError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"{status}: {body[:300]}")
        self.status = status
        self.body = body


def _ssl_context(cluster: dict[str, Any], user: dict[str, Any], scratch: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(
        cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
    )
    cert, key = scratch / "client.crt", scratch / "client.key"
    cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
    key.write_bytes(base64.b64decode(user["client-key-data"]))
    context.load_cert_chain(str(cert), str(key))
    return context


MAX_CONNECTIONS = 50
WATCHES = 10  # long-lived watch streams get pool connections of their own


class KubeClient:
    def __init__(self, server: str, context: ssl.SSLContext) -> None:
        self.server = server
        self._http = httpx.AsyncClient(
            base_url=server,
            verify=context,
            timeout=httpx.Timeout(30.0, read=None),
            limits=httpx.Limits(max_connections=MAX_CONNECTIONS + WATCHES),
        )
        # Requests wait here rather than in httpcore's pool, whose bookkeeping grows with every waiting
        # request (it was 40% of the operator's CPU with a few hundred creates queued).
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)

    @classmethod
    def from_kubeconfig(cls, path: Path) -> KubeClient:
        config = yaml.safe_load(path.read_text())
        context_name = config["current-context"]
        context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        with tempfile.TemporaryDirectory() as scratch:
            ssl_context = _ssl_context(cluster, user, Path(scratch))
        return cls(cluster["server"], ssl_context)

    async def close(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        content = None if body is None else json.dumps(body)
        headers = {"Content-Type": content_type} if body is not None else {}
        async with self._slots:
            response = await self._http.request(method, path, content=content, params=params, headers=headers)
        if response.status_code >= 400:
            raise ApiError(response.status_code, response.text)
        result: dict[str, Any] = response.json() if response.content else {}
        return result

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
            "timeoutSeconds": "300",
        }
        async with self._http.stream("GET", path, params=query) as response:
            if response.status_code >= 400:
                raise ApiError(response.status_code, (await response.aread()).decode())
            async for line in response.aiter_lines():
                if line:
                    yield json.loads(line)
