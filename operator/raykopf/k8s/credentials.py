"""Where the operator's credentials come from, one source for raykopf's client and kopf's login: a
kubeconfig, read by a maintained loader (kubernetes_asyncio's: exec credential plugins, certificate and
key files or data, `tokenFile`, `KUBECONFIG=a:b` merging, `insecure-skip-tls-verify`, `proxy-url`,
`tls-server-name`, contexts), or the Pod's service account. Credentials that expire (an exec plugin's
token, the service account's rotated token) are loaded again before they do, and on a 401."""

from __future__ import annotations

import asyncio
import datetime
import functools
import os
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

RENEW_BEFORE = 60.0  # seconds before an expiry that credentials are loaded again
TOKEN_REREAD_SECONDS = 60  # kubelet rotates projected tokens; the old one stays valid meanwhile


class CredentialError(RuntimeError):
    """The credentials cannot be loaded; the message says which file, context or plugin, in one line."""


@dataclass(frozen=True)
class Credentials:
    server: str
    authorization: str | None = None  # the Authorization header: "Bearer <token>" or "Basic <...>"
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    proxy: str | None = None
    expires: float | None = None  # time.time() after which these must not be used
    reread_at: float | None = None  # time.time() after which their files are read again (still valid)

    def stale(self, now: float | None = None) -> bool:
        now = now or time.time()
        expiring = self.expires is not None and now >= self.expires - RENEW_BEFORE
        return expiring or (self.reread_at is not None and now >= self.reread_at)

    @functools.cached_property
    def ssl_context(self) -> ssl.SSLContext | bool:
        """The TLS settings of every connection (False: not TLS, or verification off as
        `insecure-skip-tls-verify`); with `tls-server-name`, certificates are checked against that name.
        Built once per credentials: aiohttp pools connections by it."""
        if not self.server.startswith("https") or self.insecure:
            return False
        context = _NamedContext(ssl.PROTOCOL_TLS_CLIENT)
        context.server_name = self.tls_server_name
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        else:
            context.load_default_certs()
        if self.cert_file and self.key_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def headers(self) -> dict[str, str]:
        return {"Authorization": self.authorization} if self.authorization else {}


class _NamedContext(ssl.SSLContext):
    """A client context that checks the server's certificate against `server_name` when set (kubeconfig's
    `tls-server-name`) instead of the host in the URL; every connection of raykopf's client and of
    kopf's is made through it."""

    server_name: str | None = None

    def wrap_bio(
        self,
        incoming: Any,
        outgoing: Any,
        server_side: bool = False,
        server_hostname: Any = None,
        session: Any = None,
    ) -> ssl.SSLObject:
        return super().wrap_bio(incoming, outgoing, server_side, self.server_name or server_hostname, session)


class SharedCredentials:
    """One source's current credentials for every client that uses it (an exec plugin runs once for the
    operator, not once per client): loaded on first use, again shortly before they expire, and again
    when the apiserver refused them (401) and nobody has loaded newer ones since."""

    def __init__(self, source: CredentialSource) -> None:
        self.source = source
        self._current: Credentials | None = None
        self._lock: asyncio.Lock | None = None

    async def current(self) -> Credentials:
        now = self._current
        if now is not None and not now.stale():
            return now
        return await self._load(lambda held: held is None or held.stale())

    async def renew(self, refused: Credentials) -> Credentials:
        return await self._load(lambda held: held is None or held is refused or held.stale())

    async def _load(self, needed: Callable[[Credentials | None], bool]) -> Credentials:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if needed(self._current):
                self._current = await self.source.load()
            assert self._current is not None
            return self._current


class CredentialSource(Protocol):
    async def load(self) -> Credentials:
        """Fresh credentials (files read again, plugins run again)."""
        ...


@dataclass
class Static:
    """Fixed credentials (tests, a known server)."""

    credentials: Credentials

    async def load(self) -> Credentials:
        return self.credentials


@dataclass
class ServiceAccount:
    """The Pod's service account: its token, read again every minute as kubelet rotates it."""

    server: str
    folder: Path

    async def load(self) -> Credentials:
        token = (self.folder / "token").read_text().strip()
        return Credentials(
            self.server,
            authorization=f"Bearer {token}",
            ca_file=str(self.folder / "ca.crt"),
            reread_at=time.time() + TOKEN_REREAD_SECONDS,
        )


class _Target:
    """What kubernetes_asyncio's loader writes into (its Configuration's attributes, without importing
    its generated API client)."""

    def __init__(self) -> None:
        self.api_key: dict[str, str] = {}
        self.host = ""
        self.ssl_ca_cert: str | None = None
        self.cert_file: str | None = None
        self.key_file: str | None = None
        self.verify_ssl = True
        self.tls_server_name: str | None = None
        self.proxy: str | None = None


@dataclass
class Kubeconfig:
    """A kubeconfig as kubectl reads it: `paths` merged in order (the first file that names a cluster,
    user or context wins; the last current-context), then `context` or the current one."""

    paths: list[Path]
    context: str | None = None

    def describe(self) -> str:
        return os.pathsep.join(str(p) for p in self.paths)

    async def load(self) -> Credentials:
        for path in self.paths:
            try:
                path.open("rb").close()  # said here in one line; the loader reads it
            except OSError as error:
                raise CredentialError(
                    f"kubeconfig {path}: cannot read it: {error.strerror or error}"
                ) from error
        # Imported here: only an operator outside a cluster pays for the loader (about 40 MB).
        from kubernetes_asyncio.config.config_exception import ConfigException
        from kubernetes_asyncio.config.kube_config import KubeConfigLoader, KubeConfigMerger

        try:
            merger = KubeConfigMerger(self.describe())
        except Exception as error:  # a file that is not a kubeconfig at all
            raise CredentialError(f"kubeconfig {self.describe()}: not a kubeconfig: {error}") from error
        merged = merger.config
        if merged is None or not isinstance(merged.value, dict):
            raise CredentialError(f"kubeconfig {self.describe()}: not a kubeconfig")
        config = merged.value
        contexts = [str(item["name"]) for item in config.get("contexts") or []]
        # kubectl's rule: the first file that sets a current-context wins (the loader keeps the last).
        first_set = (merger.config_files[path].get("current-context") for path in merger.paths)
        wanted = self.context or next((name for name in first_set if name), None)
        if not wanted:
            raise CredentialError(
                f"kubeconfig {self.describe()}: no current-context; pass --context (one of: {', '.join(contexts)})"
            )
        if wanted not in contexts:
            raise CredentialError(
                f"kubeconfig {self.describe()}: no context {wanted!r} (contexts: {', '.join(contexts) or 'none'})"
            )
        target = _Target()
        try:
            loader = KubeConfigLoader(
                # Certificate and key data go to private temporary files (0600), removed at exit.
                config_dict=merged,
                config_base_path=None,
                active_context=wanted,
            )
            await loader.load_and_set(target)
        except (ConfigException, AssertionError, KeyError, OSError) as error:
            raise CredentialError(
                f"kubeconfig {self.describe()}, context {wanted!r}: {_why(error)}"
            ) from error
        if not target.host:
            raise CredentialError(
                f"kubeconfig {self.describe()}, context {wanted!r}: its cluster has no server"
            )
        expiry = getattr(loader, "exec_plugin_expiry", None)
        authorization = target.api_key.get("BearerToken")
        return Credentials(
            target.host,
            # As client-go, a token file's surrounding whitespace (its last newline) is not the token's.
            authorization=authorization.strip() if authorization else None,
            ca_file=target.ssl_ca_cert,
            cert_file=target.cert_file,
            key_file=target.key_file,
            insecure=not target.verify_ssl,
            tls_server_name=target.tls_server_name,
            proxy=target.proxy,
            expires=_timestamp(expiry),
        )


def _why(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:500]


def _timestamp(value: Any) -> float | None:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return float(value.timestamp())
    return None
