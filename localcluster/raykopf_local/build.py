"""Builds the control plane from Kubernetes' and etcd's Go modules with the machine's Go, once per
version, into a cache outside the repository.

The wrapper module in `kubernetes/` pins the versions (its go.mod is the one place they are written);
its `tool` directives name the upstream main packages that are built: kube-apiserver,
kube-controller-manager, kube-scheduler, kubectl and etcd.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from raykopf_local.gomodule import GO_MODULE, MAIN_PACKAGES, Pins
from raykopf_local.hostenv import host_environment
from raykopf_local.paths import Layout

APT_PACKAGES = ("dnsmasq-base", "iptables", "iproute2", "util-linux", "redis-server")

Say = Callable[[str], None]


class BuildError(RuntimeError):
    """A failed step: the command and where its full log is."""


def run_step(
    command: list[str], log: Path, *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(command)}\n".encode())
        out.flush()
        result = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        raise BuildError(f"`{' '.join(command)}` failed with exit code {result.returncode}; see {log}")


def ensure_packages(say: Say, log: Path) -> None:
    missing = [
        name
        for name in APT_PACKAGES
        if subprocess.run(["dpkg", "-s", name], capture_output=True, check=False).returncode != 0
    ]
    if missing:
        say(f"installing Debian packages: {' '.join(missing)}")
        env = host_environment(DEBIAN_FRONTEND="noninteractive")
        run_step(["apt-get", "update", "-qq"], log, env=env)
        run_step(["apt-get", "install", "-y", "-qq", *missing], log, env=env)


def go_command() -> str:
    """The machine's Go (Go 1.26 or newer: the wrapper module's go.mod says so)."""
    found = shutil.which("go", path=host_environment().get("PATH")) or next(
        (str(p) for p in (Path("/usr/local/go/bin/go"), Path("/usr/lib/go/bin/go")) if p.exists()), None
    )
    if found is None:
        raise BuildError("no `go` command found: the local cluster is built from Go modules with Go 1.26+")
    return found


def binaries_ready(layout: Layout) -> bool:
    return all(os.access(layout.binary(name), os.X_OK) for name in MAIN_PACKAGES)


def go_environment(go: str) -> dict[str, str]:
    return host_environment(
        PATH=f"{Path(go).parent}:{host_environment().get('PATH', '')}",
        CGO_ENABLED="0",
        GOFLAGS="-mod=readonly -buildvcs=false",
    )


def package_count(go: str, env: dict[str, str], packages: list[str], cwd: Path = GO_MODULE) -> int:
    listed = subprocess.run(
        [go, "list", "-deps", *packages],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return len(listed.stdout.split()) if listed.returncode == 0 else 0


def build_binaries(say: Say, log: Path, layout: Layout) -> None:
    pins = Pins.read()
    go = go_command()
    env = go_environment(go)
    started = time.monotonic()
    say(f"downloading the Go modules of Kubernetes {pins.kubernetes} and etcd {pins.etcd} (log: {log})")
    run_step([go, "mod", "download"], log, cwd=GO_MODULE, env=env)
    total = package_count(go, env, list(MAIN_PACKAGES.values()))
    say(
        f"modules ready in {time.monotonic() - started:.0f} s; building {', '.join(MAIN_PACKAGES)} "
        f"({total} packages; a cold build takes about 5 minutes on 2 cores)"
    )
    staging = layout.bin.with_name("bin.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    build_date = _release_date(go, env)
    command = [
        go,
        "build",
        "-v",
        "-trimpath",
        "-ldflags",
        pins.ldflags(build_date),
        "-o",
        str(staging),
        *MAIN_PACKAGES.values(),
    ]
    built = time.monotonic()
    run_with_progress(command, log, cwd=GO_MODULE, env=env, total=total, say=say, started=built)
    # `go build -o DIR` names a binary after its package path; etcd's ends in `server/v3`.
    (staging / "server").rename(staging / "etcd")
    shutil.rmtree(layout.bin, ignore_errors=True)
    staging.rename(layout.bin)
    say(
        f"built in {time.monotonic() - built:.0f} s ({time.monotonic() - started:.0f} s with the download); "
        f"cached in {layout.bin}"
    )


def _release_date(go: str, env: dict[str, str]) -> str:
    """The Kubernetes release's own date, as the module proxy gives it (reproducible, unlike the clock)."""
    listed = subprocess.run(
        [go, "list", "-m", "-json", "k8s.io/kubernetes"],
        cwd=GO_MODULE,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    time_field = json.loads(listed.stdout).get("Time") if listed.returncode == 0 else None
    return str(time_field or "1970-01-01T00:00:00Z")


def run_with_progress(
    command: list[str], log: Path, *, cwd: Path, env: dict[str, str], total: int, say: Say, started: float
) -> None:
    """Run `go build -v`, which prints each package it compiles, and say how far it is every 30 s."""
    log.parent.mkdir(parents=True, exist_ok=True)
    compiled = 0
    done = threading.Event()

    def report() -> None:
        while not done.wait(30):
            of_total = f"/{total}" if total else ""
            say(f"[{time.monotonic() - started:5.0f} s] compiled {compiled}{of_total} packages")

    reporter = threading.Thread(target=report, daemon=True)
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert process.stdout is not None
        reporter.start()
        for line in process.stdout:
            out.write(line)
            compiled += 1
        code = process.wait()
        done.set()
    if code != 0:
        raise BuildError(f"`go build` failed with exit code {code}; see {log}")


def prepare(layout: Layout, say: Say) -> None:
    """Everything the control plane needs, installed or built once; a no-op when cached."""
    log = layout.cache / "build.log"
    ensure_packages(say, log)
    if binaries_ready(layout):
        return
    build_binaries(say, log, layout)


if __name__ == "__main__":
    prepare(Layout.default(), lambda line: print(line, file=sys.stderr, flush=True))
