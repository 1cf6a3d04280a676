"""The `raykopf` command line."""

from __future__ import annotations

import argparse
import os
import shutil
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


def _local_command(arguments: list[str], err: TextIO) -> int:
    """`raykopf local ...` runs `raykopf-local ...` (the local cluster is its own distribution, which the
    operator never imports), as kubectl runs its plugins."""
    command = _local_executable()
    if command is None:
        print(
            "raykopf local: the local cluster is not installed; from a clone: pip install -e ./localcluster "
            "(make setup does it)",
            file=err,
        )
        return 1
    sys.stdout.flush()
    err.flush()
    os.execv(command, [command, *arguments])


def _local_executable() -> str | None:
    # Beside this interpreter first: `sudo .venv/bin/raykopf local up` runs with root's PATH.
    beside = Path(sys.executable).parent / "raykopf-local"
    if os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("raykopf-local")


def _run_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import asyncio
    import dataclasses
    import logging

    from raykopf.config import OperatorConfig, kubeconfig_path, parse_feature_gates
    from raykopf.k8s.leader import LostLeadership, RivalOperator
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
        allow_other_operators=args.allow_other_operators,
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
        max_pods_per_cluster=args.max_pods_per_cluster,
    )
    try:
        asyncio.run(run(options, config))
    except (LostLeadership, RivalOperator):
        return 1  # as controller-runtime: exit, and come back as a standby (or to wait for the rival)
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
    run.add_argument(
        "--allow-other-operators",
        action="store_true",
        help="reconcile even while another operator (KubeRay or raykopf) leads through a ray-operator-leader "
        "Lease in another namespace over namespaces this one watches (default: stand back until it stops)",
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
        "--max-pods-per-cluster",
        type=int,
        default=10_000,
        help="refuse a RayCluster (or a RayJob's or RayService's) that asks for more Pods (default 10000)",
    )
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
        "local",
        help="the local cluster (real control plane, Pods as processes with real Ray): `raykopf local --help`",
        add_help=False,
    )
    local.add_argument("arguments", nargs=argparse.REMAINDER)
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["local"]:  # every argument after `local` is the local cluster's, `--help` too
        return _local_command(arguments[1:], err or sys.stderr)
    args = build_parser().parse_args(arguments)
    return int(args.handler(args, out or sys.stdout, err or sys.stderr))
