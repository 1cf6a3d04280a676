"""KubeRay's own operator as a peer on the local cluster: built once from its Go module (pinned in
`kuberay/go.mod`), run as a process beside raykopf against the same apiserver, each operator watching
its own namespaces.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from raykopf_local.build import go_command, go_environment, package_count, run_step, run_with_progress
from raykopf_local.gomodule import module_digest, required_version

GO_MODULE = Path(__file__).resolve().parent / "kuberay"
MAIN_PACKAGE = "github.com/ray-project/kuberay/ray-operator"
PROCESS = "kuberay"
# raykopf's defaults are KubeRay's (:8080, :8082); the peer moves off them so both can run at once.
METRICS_ADDR = ":18080"
PROBE_ADDR = ":18082"

Say = Callable[[str], None]


@dataclass(frozen=True)
class KubeRayPin:
    version: str
    digest: str

    @classmethod
    def read(cls, module: Path = GO_MODULE) -> KubeRayPin:
        go_mod = (module / "go.mod").read_text()
        return cls(version=required_version(module, go_mod, MAIN_PACKAGE), digest=module_digest(module))


def binary(cache: Path, pin: KubeRayPin | None = None) -> Path:
    """Where the built operator is cached, keyed by KubeRay's version and the wrapper module's digest."""
    pin = pin or KubeRayPin.read()
    return cache / f"kuberay-{pin.version}-{pin.digest}" / "ray-operator"


def build(cache: Path, say: Say) -> Path:
    """Build KubeRay's operator once per pinned version; return the binary."""
    pin = KubeRayPin.read()
    target = binary(cache, pin)
    if os.access(target, os.X_OK):
        return target
    go = go_command()
    env = go_environment(go)
    log = cache / "build.log"
    started = time.monotonic()
    say(f"downloading KubeRay {pin.version}'s Go modules (log: {log})")
    run_step([go, "mod", "download"], log, cwd=GO_MODULE, env=env)
    total = package_count(go, env, [MAIN_PACKAGE], cwd=GO_MODULE)
    say(f"building KubeRay's operator {pin.version} ({total} packages; about 90 s cold on 2 cores)")
    staging = target.parent.with_name(target.parent.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    command = [go, "build", "-v", "-trimpath", "-o", str(staging / target.name), MAIN_PACKAGE]
    run_with_progress(command, log, cwd=GO_MODULE, env=env, total=total, say=say, started=started)
    shutil.rmtree(target.parent, ignore_errors=True)
    staging.rename(target.parent)
    say(f"built KubeRay's operator in {time.monotonic() - started:.0f} s; cached at {target}")
    return target


def peer_args(
    kubeconfig: Path, watch_namespaces: Sequence[str], *, leader_election_namespace: str | None = None
) -> list[str]:
    """KubeRay's own flags for a peer on the host: its ports off raykopf's, dashboards through the
    apiserver (cluster DNS does not resolve on the host), leader election off unless given a namespace
    (then on its own Lease, `ray-operator-leader`, in that namespace)."""
    if not watch_namespaces:
        raise ValueError("the KubeRay peer needs the namespaces it owns (it must not watch raykopf's)")
    args = [
        f"--kubeconfig={kubeconfig}",
        f"--watch-namespace={','.join(watch_namespaces)}",
        f"--metrics-addr={METRICS_ADDR}",
        f"--health-probe-bind-address={PROBE_ADDR}",
        "--use-kubernetes-proxy",
    ]
    if leader_election_namespace:
        args += ["--enable-leader-election=true", f"--leader-election-namespace={leader_election_namespace}"]
    else:
        args.append("--enable-leader-election=false")
    return args
