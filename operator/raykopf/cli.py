"""The `raykopf` command line."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from raykopf import __version__, constants
from raykopf.manifests import expand, read_documents
from raykopf.validation import KINDS, validate
from raykopf.validation.configuration import BATCH_SCHEDULERS, check_configuration

if TYPE_CHECKING:
    from raykopf.runtime.admission import WebhookOptions


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


# KubeRay's flags a `--config` file replaces (main.go reads them only without one), by the file's field.
CONFIG_FIELDS = {
    "metricsAddr": "metrics_addr",
    "probeAddr": "health_probe_bind_address",
    "enableLeaderElection": "enable_leader_election",
    "leaderElectionNamespace": "leader_election_namespace",
    "reconcileConcurrency": "reconcile_concurrency",
    "watchNamespace": "watch_namespace",
    "logFile": "log_file_path",
    "logFileEncoder": "log_file_encoder",
    "logStdoutEncoder": "log_stdout_encoder",
    "batchScheduler": "batch_scheduler",
    "enableBatchScheduler": "enable_batch_scheduler",
    "useKubernetesProxy": "use_kubernetes_proxy",
    "enableMetrics": "enable_metrics",
    "qps": "qps",
    "burst": "burst",
}
# zap's level names, as controller-runtime's --zap-log-level takes them (an integer n is debug level n).
ZAP_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "error": logging.ERROR, "panic": logging.CRITICAL}


class ConfigError(Exception):
    """The operator cannot start as configured; the message says what to change."""


def _read_config_file(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    """The checked `--config` document, and the warnings to log once logging is set up."""
    path = args.config
    documents = list(read_documents(path))
    for failed in (doc for doc in documents if doc.error is not None):
        raise ConfigError(f"--config {path}: {failed.error}")
    if len(documents) != 1:
        raise ConfigError(f"--config {path}: expected one Configuration document, found {len(documents)}")
    document = documents[0].body
    problems = check_configuration(document)
    errors = [f"--config {path}: {problem}" for problem in problems if problem.is_error]
    if errors:
        raise ConfigError("\n".join(errors))
    return document, [f"--config {path}: {problem}" for problem in problems]


def settle_flags(args: argparse.Namespace) -> tuple[dict[str, Any] | None, list[str]]:
    """Apply `--config` over the flags it replaces (flags given beside it are ignored, as by KubeRay,
    and said); refuse what raykopf does not do. Returns the document and the warnings to log."""
    document: dict[str, Any] | None = None
    warnings: list[str] = []
    if args.config:
        document, warnings = _read_config_file(args)
        defaults = argparse.ArgumentParser()
        _add_run_flags(defaults)
        ignored = []
        for key, dest in CONFIG_FIELDS.items():
            default = defaults.get_default(dest)
            if getattr(args, dest) != default:
                ignored.append("--" + dest.replace("_", "-"))
            value = document.get(key)
            setattr(args, dest, default if value is None else value)
        if ignored:
            warnings.append(
                f"--config is set, so these flags are ignored (as by KubeRay): {', '.join(ignored)}"
            )
    if args.enable_batch_scheduler and args.batch_scheduler:
        raise ConfigError(
            "both --enable-batch-scheduler (deprecated) and --batch-scheduler are set; use --batch-scheduler only"
        )
    if args.batch_scheduler and args.batch_scheduler not in BATCH_SCHEDULERS:
        raise ConfigError(
            f"--batch-scheduler {args.batch_scheduler!r}: expected one of {', '.join(BATCH_SCHEDULERS)}"
        )
    if args.batch_scheduler or args.enable_batch_scheduler:
        name = args.batch_scheduler or "volcano"
        raise ConfigError(
            f"batch scheduling ({name}) is not implemented by raykopf: its Pods would be created without the "
            "scheduler's PodGroups and labels; remove --batch-scheduler/--enable-batch-scheduler (or "
            "batchScheduler/enableBatchScheduler in the --config file), or keep KubeRay for gang scheduling"
        )
    if args.forced_cluster_upgrade:
        warnings.append("--forced-cluster-upgrade is deprecated and has no effect (as in KubeRay)")
    for flag in ("zap_encoder", "zap_stacktrace_level", "zap_time_encoding"):
        if getattr(args, flag):
            warnings.append(
                f"--{flag.replace('_', '-')} has no effect: --log-stdout-encoder sets the log format"
            )
    return document, warnings


def _log_level(args: argparse.Namespace) -> int:
    level = (args.zap_log_level or ("debug" if args.zap_devel else "info")).lower()
    if level.isdigit():  # zap's custom debug levels: 1, 2, ... (0 is info)
        return logging.DEBUG if int(level) > 0 else logging.INFO
    if level not in ZAP_LEVELS:
        raise ConfigError(f"--zap-log-level {level!r}: expected debug, info, error, panic or an integer")
    return ZAP_LEVELS[level]


def _run_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import asyncio
    import dataclasses

    from raykopf.config import OperatorConfig, kubeconfig_paths, parse_feature_gates, with_configuration
    from raykopf.k8s.leader import LostLeadership, RivalOperator
    from raykopf.runtime import logs
    from raykopf.runtime.run import RunOptions, run

    try:
        document, warnings = settle_flags(args)
        level = _log_level(args)
    except ConfigError as error:
        print(f"raykopf run: error: {error}", file=err)
        return 1
    logs.configure(
        level,
        encoder=args.log_stdout_encoder,
        file=args.log_file_path,
        file_encoder=args.log_file_encoder,
    )
    gates, gate_warnings = parse_feature_gates(args.feature_gates)
    for warning in [*warnings, *gate_warnings]:
        logging.getLogger("raykopf").warning(warning)
    environment = OperatorConfig.from_environment()
    options = RunOptions(
        kubeconfig=kubeconfig_paths(args.kubeconfig),
        context=args.context or None,
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
        webhook=webhook_options(args, environment.enable_webhooks),
    )
    config = dataclasses.replace(
        environment,
        use_kubernetes_proxy=args.use_kubernetes_proxy,
        feature_gates=tuple(sorted(gates.items())),
        max_pods_per_cluster=args.max_pods_per_cluster,
    )
    if document is not None:
        config = with_configuration(config, document)
    try:
        asyncio.run(run(options, config))
    except (LostLeadership, RivalOperator):
        return 1  # as controller-runtime: exit, and come back as a standby (or to wait for the rival)
    except RuntimeError as error:  # no cluster to talk to
        print(f"raykopf run: error: {error}", file=err)
        return 1
    return 0


def webhook_options(args: argparse.Namespace, enable_webhooks: bool) -> WebhookOptions | None:
    """The webhook as the flags (or KubeRay's ENABLE_WEBHOOKS=true: on :9443) ask for it; None: off."""
    from raykopf.config import kubeconfig_paths
    from raykopf.runtime.admission import WebhookOptions
    from raykopf.runtime.run import own_namespace

    address = args.webhook_addr or (f":{constants.WEBHOOK_PORT}" if enable_webhooks else "")
    if address in ("", "0"):
        return None
    return WebhookOptions(
        address=address,
        cert_dir=args.webhook_cert_dir,
        secret=args.webhook_cert_secret,
        configuration=args.webhook_configuration,
        service=args.webhook_service,
        namespace=own_namespace(in_cluster=kubeconfig_paths(args.kubeconfig) is None),
    )


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
    run.add_argument(
        "--context", default="", help="the kubeconfig context to use (default: its current-context)"
    )
    run.add_argument("--watch-namespace", default="", help="comma-separated namespaces to watch; empty: all")
    _bool_flag(
        run,
        "--use-kubernetes-proxy",
        False,
        "reach Ray dashboards through the apiserver's service proxy (for an operator outside the cluster)",
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
    run.add_argument(
        "--log-file-path", default="", help="also write the log to this file (rotated at 500 MB)"
    )
    run.add_argument(
        "--log-file-encoder", choices=("json", "console"), default="json", help="the log file's line format"
    )
    run.add_argument(
        "--config",
        type=Path,
        help="KubeRay's operator Configuration file (config.ray.io/v1alpha1); as KubeRay, it replaces the "
        "flags it has fields for",
    )
    run.add_argument(
        "--batch-scheduler",
        default="",
        help=f"KubeRay's batch scheduler integration ({', '.join(BATCH_SCHEDULERS)}): not implemented by "
        "raykopf, which refuses to start with it rather than ignore it",
    )
    _bool_flag(
        run, "--enable-batch-scheduler", False, "deprecated form of --batch-scheduler=volcano (refused)"
    )
    _bool_flag(run, "--forced-cluster-upgrade", False, "deprecated, no effect (as in KubeRay)")
    run.add_argument(
        "--webhook-addr",
        default="",
        help="serve the validating admission webhook here, e.g. :9443 (default: off; :9443 when "
        "ENABLE_WEBHOOKS=true, as KubeRay)",
    )
    run.add_argument(
        "--webhook-cert-dir",
        type=Path,
        default=Path(constants.WEBHOOK_CERT_DIR),
        help="the webhook's tls.crt and tls.key (default: controller-runtime's, where KubeRay reads them)",
    )
    run.add_argument(
        "--webhook-cert-secret",
        default="",
        help="make the webhook's certificate (kept in this Secret of the operator's namespace) instead of "
        "reading --webhook-cert-dir",
    )
    run.add_argument(
        "--webhook-configuration",
        default="",
        help="with --webhook-cert-secret: the ValidatingWebhookConfiguration to write the CA into",
    )
    run.add_argument(
        "--webhook-service",
        default="raykopf-webhook",
        help="with --webhook-cert-secret: the webhook Service's name, for the certificate's DNS names",
    )
    # controller-runtime's zap flags, which KubeRay's operator takes: the level is honoured; the log
    # format comes from --log-stdout-encoder, as in KubeRay, where it overrides --zap-encoder.
    _bool_flag(run, "--zap-devel", False, "debug level unless --zap-log-level says otherwise")
    run.add_argument("--zap-log-level", default="", help="debug, info, error, panic, or an integer (debug)")
    run.add_argument("--zap-encoder", default="", help="accepted; no effect (see --log-stdout-encoder)")
    run.add_argument("--zap-stacktrace-level", default="", help="accepted; no effect")
    run.add_argument("--zap-time-encoding", default="", help="accepted; no effect")


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
