"""Credentials from every form of kubeconfig kubectl reads (kubernetes_asyncio's loader), shared by all
clients, loaded again before they expire; clear one-line errors. The same kubeconfigs against the real
apiserver are in e2e/test_credentials.py."""

from __future__ import annotations

import asyncio
import datetime
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from raykopf.config import kubeconfig_paths
from raykopf.k8s.credentials import (
    CredentialError,
    Credentials,
    Kubeconfig,
    SharedCredentials,
)

SERVER = "https://10.0.0.1:6443"


def kubeconfig(
    path: Path,
    user: dict[str, Any],
    *,
    cluster: dict[str, Any] | None = None,
    contexts: tuple[str, ...] = ("main",),
    current: str | None = "main",
) -> Path:
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c", "cluster": cluster or {"server": SERVER, "insecure-skip-tls-verify": True}}
        ],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": name, "context": {"cluster": "c", "user": "u"}} for name in contexts],
    }
    if current:
        config["current-context"] = current
    path.write_text(yaml.safe_dump(config))
    return path


def exec_plugin(
    folder: Path, tokens: tuple[str, ...] = ("exec-token",), expires: str | None = None, exit_code: int = 0
) -> dict[str, Any]:
    """An exec credential plugin (as `aws eks get-token`): prints an ExecCredential with `tokens` in
    turn (the last one for good), counts its runs in `folder/calls`."""
    script = folder / "plugin.py"
    extra = {"expirationTimestamp": expires} if expires else {}
    script.write_text(
        "import json, pathlib, sys\n"
        f"calls = pathlib.Path({str(folder / 'calls')!r})\n"
        "n = len(calls.read_text()) if calls.exists() else 0\n"
        "calls.write_text('x' * (n + 1))\n"
        f"tokens = {list(tokens)!r}\n"
        f"status = dict(token=tokens[min(n, len(tokens) - 1)], **{extra!r})\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',"
        " 'status': status}))\n"
        f"sys.stderr.write('plugin says no') if {exit_code} else None\n"
        f"sys.exit({exit_code})\n"
    )
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(script)],
            "interactiveMode": "Never",
        }
    }


def calls(folder: Path) -> int:
    path = folder / "calls"
    return len(path.read_text()) if path.exists() else 0


def load(*paths: Path, context: str | None = None) -> Any:
    return asyncio.run(Kubeconfig(list(paths), context).load())


def test_an_exec_plugin_token_is_used_shared_and_renewed_before_it_expires(tmp_path: Path) -> None:
    soon = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    path = kubeconfig(tmp_path / "config", exec_plugin(tmp_path, expires=soon))

    async def main() -> None:
        shared = SharedCredentials(Kubeconfig([path]))
        first = await shared.current()
        assert first.authorization == "Bearer exec-token"
        assert first.expires is not None
        assert calls(tmp_path) == 1
        # It expires within the renewal margin: every use loads again (a long-lived one would not).
        await shared.current()
        assert calls(tmp_path) == 2

    asyncio.run(main())


def test_an_exec_plugin_runs_once_for_every_client_until_refused(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config", exec_plugin(tmp_path))

    async def main() -> None:
        shared = SharedCredentials(Kubeconfig([path]))
        got = await asyncio.gather(*(shared.current() for _ in range(5)))
        assert calls(tmp_path) == 1
        assert await shared.renew(got[0]) is not got[0]  # a 401: the plugin runs again
        assert calls(tmp_path) == 2
        await shared.renew(got[0])  # refused ones already replaced: not again
        assert calls(tmp_path) == 2

    asyncio.run(main())


def test_a_failing_exec_plugin_is_said_in_one_line(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config", exec_plugin(tmp_path, exit_code=3))
    with pytest.raises(CredentialError) as error:
        load(path)
    text = str(error.value)
    assert "\n" not in text
    assert text.startswith(f"kubeconfig {path}, context 'main': exec: process returned 3")


def test_certificate_and_key_files_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    for name in ("ca.crt", "client.crt", "client.key"):
        (tmp_path / "certs" / name).write_text("x")
    cluster = {"server": SERVER, "certificate-authority": "certs/ca.crt"}
    user = {"client-certificate": "certs/client.crt", "client-key": str(tmp_path / "certs" / "client.key")}
    got = load(kubeconfig(tmp_path / "config", user, cluster=cluster))
    assert Path(got.ca_file) == tmp_path / "certs" / "ca.crt"
    assert Path(got.cert_file) == tmp_path / "certs" / "client.crt"
    assert Path(got.key_file) == tmp_path / "certs" / "client.key"
    assert got.authorization is None
    assert got.insecure is False


def test_token_file_tls_server_name_proxy_and_insecure(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file\n")
    cluster = {
        "server": SERVER,
        "insecure-skip-tls-verify": True,
        "tls-server-name": "kubernetes.default",
        "proxy-url": "http://proxy.example:3128",
    }
    got = load(kubeconfig(tmp_path / "config", {"tokenFile": str(tmp_path / "token")}, cluster=cluster))
    assert got.authorization == "Bearer from-file"
    assert (got.tls_server_name, got.proxy, got.insecure) == (
        "kubernetes.default",
        "http://proxy.example:3128",
        True,
    )
    assert got.ssl_context is False  # insecure-skip-tls-verify


def test_merged_files_and_a_chosen_context(tmp_path: Path) -> None:
    first = kubeconfig(tmp_path / "a", {"token": "from-a"}, contexts=("main", "other"), current=None)
    second = tmp_path / "b"
    second.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "main"}))
    assert load(first, second).authorization == "Bearer from-a"  # the current context from b
    assert load(first, context="other").server == SERVER
    with pytest.raises(CredentialError, match=r"no context 'missing' \(contexts: main, other\)"):
        load(first, second, context="missing")
    with pytest.raises(CredentialError, match="no current-context; pass --context"):
        load(first)
    # kubectl's rule: the first file that sets a current-context wins.
    two = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": SERVER, "insecure-skip-tls-verify": True}}],
        "users": [{"name": "alice", "user": {"token": "alice"}}, {"name": "bob", "user": {"token": "bob"}}],
        "contexts": [
            {"name": "as-alice", "context": {"cluster": "c", "user": "alice"}},
            {"name": "as-bob", "context": {"cluster": "c", "user": "bob"}},
        ],
        "current-context": "as-bob",
    }
    both = tmp_path / "c"
    both.write_text(yaml.safe_dump(two))
    later = tmp_path / "d"
    later.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "as-alice"}))
    assert load(both, later).authorization == "Bearer bob"
    assert load(later, both).authorization == "Bearer alice"
    broken = tmp_path / "e"
    broken.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "gone"}))
    with pytest.raises(CredentialError, match="no context 'gone'"):
        load(broken, both)


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        CredentialError, match=f"kubeconfig {tmp_path / 'nope'}: cannot read it: No such file"
    ):
        load(tmp_path / "nope")
    (tmp_path / "empty").write_text("")
    with pytest.raises(CredentialError, match=f"kubeconfig {tmp_path / 'empty'}: not a kubeconfig"):
        load(tmp_path / "empty")


def test_kubeconfig_paths_merge_kubeconfig_as_client_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    assert kubeconfig_paths(None) == [tmp_path / "a", tmp_path / "b"]
    assert kubeconfig_paths(tmp_path / "c") == [tmp_path / "c"]
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    assert kubeconfig_paths(None) is None


def test_kopf_logs_in_again_before_an_expiry_but_not_at_each_token_reread() -> None:
    from raykopf.runtime.run import kopf_session

    async def main() -> None:
        expiring = Credentials(SERVER, authorization="Bearer t", insecure=True, expires=2_000_000_000.0)
        session = kopf_session(expiring)
        assert session.expiration == datetime.datetime.fromtimestamp(2_000_000_000.0 - 60, datetime.UTC)
        assert session.aiohttp_session.headers["Authorization"] == "Bearer t"
        assert session.server == SERVER
        await session.aiohttp_session.close()
        reread = kopf_session(Credentials(SERVER, authorization="Bearer t", insecure=True, reread_at=1.0))
        assert reread.expiration is None  # a service account's token file is read again; kopf keeps going
        await reread.aiohttp_session.close()

    asyncio.run(main())
