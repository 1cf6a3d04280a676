"""The `raykopf` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from raykopf import __version__
from raykopf.manifests import expand, read_documents
from raykopf.validation import KINDS, validate


def _validate_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    files = expand(args.filename)
    objects = errors = warnings = 0
    for path in files:
        for doc in read_documents(path):
            if doc.error is not None:
                print(f"{path}: {doc.error}", file=out)
                errors += 1
                continue
            if not doc.is_ray:
                continue
            if doc.body.get("kind") not in KINDS:
                print(
                    f"{path}:{doc.label}: warning: kind is not one raykopf manages; not validated", file=out
                )
                warnings += 1
                continue
            objects += 1
            for problem in validate(doc.body):
                print(f"{path}:{doc.label}: {problem}", file=out)
                errors += problem.is_error
                warnings += not problem.is_error
    print(f"{objects} objects in {len(files)} files: {errors} errors, {warnings} warnings", file=err)
    return 1 if errors or not files else 0


def _local_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from raykopf.local.build import BuildError
    from raykopf.local.cluster import LocalCluster, LocalClusterError

    cluster = LocalCluster()

    def say(line: str) -> None:
        print(f"raykopf local: {line}", file=err, flush=True)

    try:
        if args.action == "prepare":
            cluster.prepare(say)
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
        elif args.action == "status":
            running = cluster.status()
            for name, pid in running.items():
                print(f"{name:<24} {f'running (pid {pid})' if pid else 'stopped'}", file=out)
            return 0 if all(running.values()) else 3
        elif args.action == "demo":
            from raykopf.local.demo import run_demo

            return run_demo(cluster, say)
        elif args.action == "logs":
            return _print_pod_log(cluster, args, out)
    except (LocalClusterError, BuildError, RuntimeError) as error:
        print(f"raykopf local {args.action}: error: {error}", file=err)
        return 1
    return 0


def _print_pod_log(cluster: object, args: argparse.Namespace, out: TextIO) -> int:
    from raykopf.local.cluster import LocalCluster

    assert isinstance(cluster, LocalCluster)
    path = cluster.pod_log(args.namespace, args.pod, args.container)
    if path is None:
        print(f"no logs for pod {args.namespace}/{args.pod}", file=out)
        return 1
    out.write(path.read_text(errors="replace"))
    return 0


def _run_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import asyncio
    import dataclasses
    import logging

    from raykopf.config import OperatorConfig, kubeconfig_path, parse_feature_gates
    from raykopf.k8s.leader import LostLeadership
    from raykopf.runtime import logs
    from raykopf.runtime.run import RunOptions, run

    logs.configure(encoder=args.log_stdout_encoder)
    gates, warnings = parse_feature_gates(args.feature_gates)
    for warning in warnings:
        logging.getLogger("raykopf").warning(warning)
    options = RunOptions(
        kubeconfig=kubeconfig_path(args.kubeconfig),
        namespaces=[n.strip() for n in (args.watch_namespace or "").split(",") if n.strip()],
        concurrency=args.reconcile_concurrency,
        leader_election=args.enable_leader_election,
        leader_election_namespace=args.leader_election_namespace,
        enable_metrics=args.enable_metrics,
        metrics_addr=args.metrics_addr,
        health_addr=args.health_probe_bind_address,
        qps=args.qps,
        burst=args.burst,
    )
    config = dataclasses.replace(
        OperatorConfig.from_environment(),
        use_kubernetes_proxy=args.use_kubernetes_proxy,
        feature_gates=tuple(sorted(gates.items())),
    )
    try:
        asyncio.run(run(options, config))
    except LostLeadership:
        return 1  # as controller-runtime: exit, and come back as a standby
    except RuntimeError as error:  # no cluster to talk to
        print(f"raykopf run: error: {error}", file=err)
        return 1
    return 0


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _bool_flag(parser: argparse.ArgumentParser, name: str, default: bool, help: str) -> None:
    """Go-style boolean flag: `--name`, `--name=true` or `--name=false`."""
    parser.add_argument(name, type=_bool, nargs="?", const=True, default=default, metavar="BOOL", help=help)


def _add_run_flags(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--kubeconfig",
        type=Path,
        help="kubeconfig of the cluster to manage (default: $KUBECONFIG, else the Pod's service account, "
        "else ~/.kube/config)",
    )
    run.add_argument("--watch-namespace", default="", help="comma-separated namespaces to watch; empty: all")
    run.add_argument(
        "--use-kubernetes-proxy",
        action="store_true",
        help="reach Ray dashboards through the apiserver's service proxy (for an operator outside the cluster)",
    )
    run.add_argument(
        "--reconcile-concurrency", type=int, default=10, help="keys reconciled at once per kind (default 10)"
    )
    _bool_flag(
        run,
        "--enable-leader-election",
        True,
        "lead through the Lease ray-operator-leader so that one replica reconciles (default true)",
    )
    run.add_argument(
        "--leader-election-namespace",
        default="",
        help="namespace of the Lease (default: the operator Pod's namespace, or `default` outside a cluster)",
    )
    _bool_flag(
        run,
        "--enable-metrics",
        False,
        "serve Prometheus metrics on --metrics-addr (default false, as KubeRay; the Helm chart sets it)",
    )
    run.add_argument("--metrics-addr", default=":8080", help="metrics address (default :8080)")
    run.add_argument(
        "--health-probe-bind-address", default=":8082", help="/healthz and /readyz address (default :8082)"
    )
    run.add_argument("--qps", type=float, default=100, help="apiserver requests per second (default 100)")
    run.add_argument("--burst", type=int, default=200, help="apiserver request burst (default 200)")
    run.add_argument(
        "--feature-gates",
        default="",
        help="KubeRay feature gates, e.g. RayJobDeletionPolicy=true; unknown gates are warned about",
    )
    run.add_argument(
        "--log-stdout-encoder",
        choices=("json", "console"),
        default="json",
        help="log line format (default json: one object per line)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="raykopf", description="A kopf-based, drop-in replacement for KubeRay."
    )
    parser.add_argument("--version", action="version", version=f"raykopf {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "validate",
        help="validate RayCluster, RayJob and RayService manifests offline",
        description="Validate ray.io manifests offline. Prints `file:kind/name: path: message` for each "
        "problem; exits 0 when every object is valid (warnings allowed), 1 otherwise.",
    )
    check.add_argument(
        "-f",
        "--filename",
        type=Path,
        action="append",
        required=True,
        metavar="FILE_OR_DIR",
        help="a YAML file (multi-document) or a directory searched recursively; repeatable",
    )
    check.set_defaults(handler=_validate_command)

    run = commands.add_parser("run", help="run the operator against a cluster")
    _add_run_flags(run)
    run.set_defaults(handler=_run_command)

    local = commands.add_parser(
        "local", help="the local cluster: real control plane, pods as processes with real Ray"
    )
    actions = local.add_subparsers(dest="action", required=True)
    up = actions.add_parser(
        "up", help="prepare (first time: builds Kubernetes, ~5-8 min) and start the local cluster"
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
    actions.add_parser(
        "prepare", help="only install and build what the cluster needs (cached outside the repo)"
    )
    actions.add_parser("down", help="stop everything the local cluster started and remove what it created")
    actions.add_parser(
        "demo", help="start the local cluster and the operator, run the sample RayJob and show its progress"
    )
    actions.add_parser("status", help="say which components run")
    actions.add_parser("kubeconfig", help="print the admin kubeconfig's path")
    logs = actions.add_parser("logs", help="print a container's log")
    logs.add_argument("pod")
    logs.add_argument("-c", "--container")
    logs.add_argument("-n", "--namespace", default="default")
    local.set_defaults(handler=_local_command)
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args, out or sys.stdout, err or sys.stderr))
