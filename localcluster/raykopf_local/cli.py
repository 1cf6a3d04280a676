"""`raykopf local` (installed as `raykopf-local`): the local cluster's command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TextIO

from raykopf_local.build import BuildError
from raykopf_local.cluster import LocalCluster, LocalClusterError
from raykopf_local.demo import SAMPLES, run_demo, samples_help


def _command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    cluster = LocalCluster()

    def say(line: str) -> None:
        print(f"raykopf local: {line}", file=err, flush=True)

    try:
        if args.action == "prepare":
            cluster.prepare(say, with_kuberay=args.with_kuberay, with_kueue=args.with_kueue)
        elif args.action == "up":
            cluster.up(
                say,
                operator=args.operator,
                simulated_nodes=args.simulated_nodes,
                simulate_only=args.simulate_only,
                cpu=args.cpu,
                memory=args.memory,
            )
        elif args.action == "down":
            cluster.down(say)
        elif args.action == "kubeconfig":
            print(cluster.kubeconfig, file=out)
        elif args.action == "kubectl":
            print(cluster.kubectl, file=out)
        elif args.action == "status":
            return _print_status(cluster, out)
        elif args.action == "kuberay":
            _kuberay(cluster, args, say)
        elif args.action == "kueue":
            if args.kueue_action == "start":
                cluster.start_kueue(say)
            elif cluster.stop_kueue():
                say("stopped Kueue")
        elif args.action == "demo":
            return run_demo(cluster, say, args.sample)
        elif args.action == "logs":
            return _print_pod_log(cluster, args, out)
    except (LocalClusterError, BuildError, RuntimeError) as error:
        print(f"raykopf local {args.action}: error: {error}", file=err)
        return 1
    return 0


def _kuberay(cluster: LocalCluster, args: argparse.Namespace, say: Callable[[str], None]) -> None:
    if args.kuberay_action == "start":
        namespaces = [name for name in args.watch_namespace.split(",") if name]
        cluster.start_kuberay(
            say, namespaces, leader_election_namespace=args.leader_election_namespace, env=dict(args.env)
        )
    elif cluster.stop_kuberay():
        say("stopped KubeRay's operator")


def _print_status(cluster: LocalCluster, out: TextIO) -> int:
    running = cluster.status()
    for name, pid in running.items():
        print(f"{name:<24} {f'running (pid {pid})' if pid else 'stopped'}", file=out)
    version = cluster.server_version() if all(running.values()) else None
    if version is not None:
        print(f"{'server version':<24} {version}", file=out)
    return 0 if all(running.values()) else 3


def _print_pod_log(cluster: LocalCluster, args: argparse.Namespace, out: TextIO) -> int:
    path = cluster.pod_log(args.namespace, args.pod, args.container)
    if path is None:
        print(f"no logs for pod {args.namespace}/{args.pod}", file=out)
        return 1
    out.write(path.read_text(errors="replace"))
    return 0


def _env_setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="raykopf local",
        description="The local cluster: a current Kubernetes control plane built from Go modules, plus a "
        "node agent that runs Pods as processes with real Ray.",
    )
    actions = parser.add_subparsers(dest="action", required=True)
    up = actions.add_parser(
        "up", help="prepare (first time: builds Kubernetes, ~5 min) and start the local cluster"
    )
    up.add_argument(
        "--simulated-nodes",
        type=int,
        default=0,
        metavar="N",
        help="also register N simulated nodes whose pods run no processes (for scale tests)",
    )
    up.add_argument("--simulate-only", action="store_true", help="register only the simulated nodes")
    up.add_argument(
        "--operator", action="store_true", help="also start the operator against the local cluster"
    )
    up.add_argument(
        "--cpu", default="16", help="allocatable CPU the node reports to the scheduler (default 16)"
    )
    up.add_argument("--memory", default="64Gi", help="allocatable memory the node reports (default 64Gi)")
    prepare = actions.add_parser(
        "prepare", help="only install and build what the cluster needs (cached outside the repo)"
    )
    prepare.add_argument(
        "--with-kuberay",
        action="store_true",
        help="also build KubeRay's operator from its Go module (the peer of `raykopf local kuberay`)",
    )
    prepare.add_argument(
        "--with-kueue",
        action="store_true",
        help="also build Kueue from its Go module (see `raykopf local kueue`)",
    )
    queue = actions.add_parser(
        "kueue",
        help="run Kueue beside the operator (its CRDs, and webhooks for its own and the ray.io kinds)",
    )
    queue_actions = queue.add_subparsers(dest="kueue_action", required=True)
    queue_actions.add_parser("start", help="start it (built on first use)")
    queue_actions.add_parser("stop", help="stop it and remove its webhooks")
    peer = actions.add_parser(
        "kuberay", help="run KubeRay's own operator beside raykopf, owning the namespaces it is given"
    )
    peer_actions = peer.add_subparsers(dest="kuberay_action", required=True)
    start = peer_actions.add_parser("start", help="start it (built on first use, about 90 s)")
    start.add_argument(
        "--watch-namespace",
        required=True,
        help="comma-separated namespaces KubeRay owns (raykopf must not watch them)",
    )
    start.add_argument(
        "--leader-election-namespace",
        help="lead through KubeRay's Lease ray-operator-leader in this namespace (default: no election)",
    )
    start.add_argument(
        "--env",
        action="append",
        default=[],
        type=_env_setting,
        metavar="NAME=VALUE",
        help="an environment variable of KubeRay's operator, e.g. ENABLE_PROBES_INJECTION=false (repeatable)",
    )
    peer_actions.add_parser("stop", help="stop it")
    actions.add_parser("down", help="stop everything the local cluster started and remove what it created")
    demo = actions.add_parser(
        "demo",
        help="start the local cluster and the operator, run a sample (default: the sample RayJob) and show its progress",
    )
    demo.add_argument("--sample", choices=sorted(SAMPLES), default="rayjob", help=samples_help())
    actions.add_parser("status", help="say which components run, and the apiserver's version")
    actions.add_parser("kubeconfig", help="print the admin kubeconfig's path")
    actions.add_parser("kubectl", help="print the path of the kubectl built with the control plane")
    logs = actions.add_parser("logs", help="print a container's log")
    logs.add_argument("pod")
    logs.add_argument("-c", "--container")
    logs.add_argument("-n", "--namespace", default="default")
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    return _command(args, out or sys.stdout, err or sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
