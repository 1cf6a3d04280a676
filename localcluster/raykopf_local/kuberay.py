"""KubeRay's own operator as a peer on the local cluster: built once from its Go module (pinned in
`kuberay/go.mod`), run as a process beside raykopf against the same apiserver, each operator watching
its own namespaces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from raykopf_local.gotool import GoTool

GO_MODULE = Path(__file__).resolve().parent / "kuberay"
MAIN_PACKAGE = "github.com/ray-project/kuberay/ray-operator"
PROCESS = "kuberay"
# raykopf's defaults are KubeRay's (:8080, :8082); the peer moves off them so both can run at once.
METRICS_ADDR = ":18080"
PROBE_ADDR = ":18082"

Say = Callable[[str], None]


OPERATOR = GoTool(
    title="KubeRay's operator",
    wrapper=GO_MODULE,
    module=MAIN_PACKAGE,
    main_package=MAIN_PACKAGE,
    name="kuberay",
)


def build(cache: Path, say: Say) -> Path:
    """Build KubeRay's operator once per pinned version; return the binary."""
    return OPERATOR.build(cache, say)


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
