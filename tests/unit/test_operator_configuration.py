"""KubeRay's operator interface: every flag of its operator, its `--config` Configuration file, and what
that file adds to Pods (sidecars, default env vars, default labels and annotations).

The file contents and expected values come from KubeRay's own tests (main_test.go Test_decodeConfig,
common/pod_test.go TestBuildPod, suite_test.go's fluentbit sidecar) and its reference behaviour."""

from __future__ import annotations

import argparse
import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from raykopf.builders.pod import build_head_pod, build_worker_pod
from raykopf.cli import ConfigError, build_parser, main, settle_flags
from raykopf.config import OperatorConfig, with_configuration
from raykopf.runtime import logs
from tests.unit.builders.test_pod import cluster

HEADER = "apiVersion: config.ray.io/v1alpha1\nkind: Configuration\n"
FLUENTBIT = {"name": "fluentbit", "image": "fluent/fluent-bit:1.9.6"}

# Every flag of KubeRay's operator (main.go and the reference's flag table) with a value it takes.
KUBERAY_FLAGS = [
    "--metrics-addr=:9090",
    "--health-probe-bind-address=:9091",
    "--enable-leader-election=false",
    "--leader-election-namespace=ray-system",
    "--reconcile-concurrency=4",
    "--watch-namespace=a,b",
    "--forced-cluster-upgrade",
    "--log-file-path=/tmp/x.log",
    "--log-file-encoder=console",
    "--log-stdout-encoder=console",
    "--enable-batch-scheduler=false",
    "--batch-scheduler=",
    "--use-kubernetes-proxy=true",
    "--feature-gates=RayJobDeletionPolicy=true",
    "--enable-metrics=true",
    "--qps=50",
    "--burst=75",
    "--zap-devel=false",
    "--zap-log-level=info",
    "--zap-encoder=json",
    "--zap-stacktrace-level=error",
    "--zap-time-encoding=iso8601",
]


def parse(*flags: str) -> argparse.Namespace:
    return build_parser().parse_args(["run", *flags])


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_every_kuberay_operator_flag_is_accepted() -> None:
    args = parse(*KUBERAY_FLAGS)
    document, warnings = settle_flags(args)
    assert document is None
    assert (args.metrics_addr, args.health_probe_bind_address) == (":9090", ":9091")
    assert (args.reconcile_concurrency, args.qps, args.burst) == (4, 50, 75)
    assert args.use_kubernetes_proxy is True
    assert args.enable_leader_election is False
    assert "--forced-cluster-upgrade is deprecated and has no effect (as in KubeRay)" in warnings
    assert any(w.startswith("--zap-encoder has no effect") for w in warnings)


def test_an_unknown_flag_is_refused_as_kuberay_refuses_it() -> None:
    with pytest.raises(SystemExit):
        parse("--watch-namespce=a")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--batch-scheduler=volcano"], "batch scheduling (volcano) is not implemented by raykopf"),
        (["--enable-batch-scheduler"], "batch scheduling (volcano) is not implemented by raykopf"),
        (["--batch-scheduler=yunikorn"], "batch scheduling (yunikorn) is not implemented by raykopf"),
        (["--batch-scheduler=slurm"], "--batch-scheduler 'slurm': expected one of volcano, yunikorn"),
        (
            ["--batch-scheduler=volcano", "--enable-batch-scheduler"],
            "both --enable-batch-scheduler (deprecated) and --batch-scheduler are set",
        ),
    ],
)
def test_batch_schedulers_are_refused_never_ignored(flags: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        settle_flags(parse(*flags))


def test_the_operator_does_not_start_with_a_batch_scheduler() -> None:
    err = io.StringIO()
    assert main(["run", "--batch-scheduler=volcano", "--kubeconfig=/nonexistent"], io.StringIO(), err) == 1
    assert err.getvalue().startswith("raykopf run: error: batch scheduling (volcano) is not implemented")


def test_kuberays_default_config_file_gives_kuberays_defaults(tmp_path: Path) -> None:
    args = parse("--config", str(config_file(tmp_path, HEADER)))
    document, warnings = settle_flags(args)
    assert document == {"apiVersion": "config.ray.io/v1alpha1", "kind": "Configuration"}
    assert warnings == []
    # Test_decodeConfig "default config file": :8080, :8082, leader election on, qps 100, burst 200.
    assert (args.metrics_addr, args.health_probe_bind_address) == (":8080", ":8082")
    assert args.enable_leader_election is True
    assert (args.qps, args.burst) == (100, 200)
    # raykopf's own default concurrency (KubeRay's is 1): the file does not set it.
    assert args.reconcile_concurrency == 10


def test_config_file_fields_replace_the_flags(tmp_path: Path) -> None:
    text = HEADER + (
        'metricsAddr: ":9000"\nprobeAddr: ":9001"\nenableLeaderElection: false\nreconcileConcurrency: 1\n'
        "qps: 150.5\nburst: 300\nwatchNamespace: team-a,team-b\nenableMetrics: true\nlogStdoutEncoder: console\n"
    )
    args = parse("--config", str(config_file(tmp_path, text)), "--qps=5", "--watch-namespace=other")
    _, warnings = settle_flags(args)
    assert (args.metrics_addr, args.health_probe_bind_address) == (":9000", ":9001")
    assert (args.enable_leader_election, args.reconcile_concurrency) == (False, 1)
    assert (args.qps, args.burst) == (150.5, 300)  # Test_decodeConfig "set QPS and Burst"
    assert args.watch_namespace == "team-a,team-b"
    assert args.enable_metrics is True
    assert args.log_stdout_encoder == "console"
    assert warnings == [
        "--config is set, so these flags are ignored (as by KubeRay): --watch-namespace, --qps"
    ]


def test_an_unknown_field_is_named_in_a_warning_not_dropped_silently(tmp_path: Path) -> None:
    args = parse(
        "--config", str(config_file(tmp_path, HEADER + "reconcileConcurrency: 1\nunknownfield: 1\n"))
    )
    _, warnings = settle_flags(args)
    assert warnings == [
        f"--config {tmp_path / 'config.yaml'}: warning: unknownfield: unknown field of KubeRay's Configuration; "
        "ignored"
    ]
    assert args.reconcile_concurrency == 1


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("kind: Configuration\n", "apiVersion: expected config.ray.io/v1alpha1, got None"),
        ("apiVersion: config.ray.io/v1alpha1\nkind: Config\n", "kind: expected Configuration, got 'Config'"),
        (HEADER + "reconcileConcurrency: ten\n", "reconcileConcurrency: expected an integer of at least 1"),
        (HEADER + "enableMetrics: yes please\n", "enableMetrics: expected true or false, got 'yes please'"),
        (HEADER + "logFileEncoder: text\n", "logFileEncoder: expected json or console, got 'text'"),
        (HEADER + "defaultPodLabels: {team: 7}\n", "defaultPodLabels: expected a map of strings to strings"),
        (
            HEADER + "headSidecarContainers:\n- name: fluentbit\n  imagee: fluent/fluent-bit:1.9.6\n",
            "headSidecarContainers[0].imagee: unknown field 'imagee'",
        ),
        (HEADER + "defaultContainerEnvs:\n- value: x\n", "defaultContainerEnvs[0]"),
        (HEADER + "batchScheduler: slurm\n", "batchScheduler: expected one of volcano, yunikorn"),
        (HEADER + "metricsAddr: [\n", "invalid YAML"),
        ("", "expected one Configuration document, found 0"),
    ],
)
def test_a_bad_config_file_stops_the_start_with_the_field_path(tmp_path: Path, text: str, error: str) -> None:
    path = config_file(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        settle_flags(parse("--config", str(path)))
    assert f"--config {path}: " in str(raised.value)
    assert error in str(raised.value)


def test_a_missing_config_file_is_said_plainly(tmp_path: Path) -> None:
    err = io.StringIO()
    assert main(["run", "--config", str(tmp_path / "none.yaml")], io.StringIO(), err) == 1
    assert "cannot read" in err.getvalue()
    assert "none.yaml" in err.getvalue()


def configured(text: str) -> OperatorConfig:
    return with_configuration(OperatorConfig(), yaml.safe_load(HEADER + text))


def containers(pod: dict[str, Any]) -> list[str]:
    return [container["name"] for container in pod["spec"]["containers"]]


def test_sidecars_are_appended_to_head_and_worker_pods() -> None:
    # Test_decodeConfig "config with sidecars" and suite_test.go's fluentbit head sidecar.
    config = configured(
        "headSidecarContainers:\n- name: fluentbit\n  image: fluent/fluent-bit:1.9.6\n"
        "workerSidecarContainers:\n- name: log-shipper\n  image: busybox\n"
    )
    demo = cluster(enableInTreeAutoscaling=True)
    head = build_head_pod(demo, config)
    assert containers(head) == [
        "ray-head",
        "autoscaler",
        "fluentbit",
    ]  # raycluster_controller: after the template's
    assert head["spec"]["containers"][2] == FLUENTBIT  # as given: nothing injected into a sidecar
    worker = build_worker_pod(demo, (demo.spec.worker_group_specs or [])[0], config)
    assert containers(worker) == ["ray-worker", "log-shipper"]
    assert containers(build_head_pod(demo, OperatorConfig())) == ["ray-head", "autoscaler"]


def test_default_container_envs_are_added_to_the_ray_container_unless_set() -> None:
    config = configured(
        "defaultContainerEnvs:\n- {name: TEST_DEFAULT_ENV_NAME, value: TEST_ENV_VALUE}\n- {name: USER_VAR, value: "
        "operator}\n- name: FROM_SECRET\n  valueFrom: {secretKeyRef: {name: s, key: k}}\n"
    )
    demo = cluster()
    head_env = build_head_pod(demo, config)["spec"]["containers"][0]["env"]
    worker_env = build_worker_pod(demo, (demo.spec.worker_group_specs or [])[0], config)["spec"][
        "containers"
    ][0]["env"]
    for env in (head_env, worker_env):
        assert {"name": "TEST_DEFAULT_ENV_NAME", "value": "TEST_ENV_VALUE"} in env  # pod_test.go TestBuildPod
        assert {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}} in env
    # The worker template sets USER_VAR itself: its value stays (EnvVarExists), the head gets the default.
    assert [e for e in worker_env if e["name"] == "USER_VAR"] == [{"name": "USER_VAR", "value": "1"}]
    assert {"name": "USER_VAR", "value": "operator"} in head_env


def test_default_pod_labels_and_annotations_only_where_the_key_is_absent() -> None:
    config = configured(
        "defaultPodLabels: {cost-center: ml, team: platform, ray.io/cluster: other}\n"
        "defaultPodAnnotations: {owner: platform@example.com}\n"
    )
    demo = cluster()
    for pod in (
        build_head_pod(demo, config),
        build_worker_pod(demo, (demo.spec.worker_group_specs or [])[0], config),
    ):
        labels = pod["metadata"]["labels"]
        assert labels["cost-center"] == "ml"
        assert labels["ray.io/cluster"] == "demo"
        assert pod["metadata"]["annotations"]["owner"] == "platform@example.com"
    assert build_head_pod(demo, config)["metadata"]["labels"]["team"] == "a"  # the template's own
    assert (
        build_worker_pod(demo, (demo.spec.worker_group_specs or [])[0], config)["metadata"]["labels"]["team"]
        == "platform"
    )


def test_the_config_file_sets_delete_rayjob_after_job_finishes() -> None:
    assert configured("deleteRayJobAfterJobFinishes: true\n").delete_rayjob_cr_after_job_finishes is True
    env_set = OperatorConfig(delete_rayjob_cr_after_job_finishes=True)
    assert with_configuration(env_set, yaml.safe_load(HEADER)).delete_rayjob_cr_after_job_finishes is False


def test_the_log_file_gets_every_info_line_in_its_own_format(tmp_path: Path) -> None:
    path = tmp_path / "operator.log"
    try:
        logs.configure(encoder="json", file=str(path), file_encoder="console")
        logging.getLogger("raykopf").info("reconciled", extra={"object": "ns/demo"})
        logging.getLogger("raykopf").debug("not written")
        for handler in logging.getLogger().handlers:
            handler.flush()
        lines = path.read_text().splitlines()
        assert len(lines) == 1
        assert lines[0].endswith("\tINFO\traykopf\treconciled object=ns/demo")
        logs.configure(encoder="json", file=str(path), file_encoder="json")
        logging.getLogger("raykopf").warning("again")
        for handler in logging.getLogger().handlers:
            handler.flush()
        assert json.loads(path.read_text().splitlines()[-1])["msg"] == "again"
    finally:
        logs.configure()


def test_an_unknown_zap_log_level_stops_the_start() -> None:
    from raykopf.cli import _log_level

    with pytest.raises(ConfigError, match="--zap-log-level 'verbose': expected debug, info, error, panic"):
        _log_level(parse("--zap-log-level=verbose"))


@pytest.mark.parametrize(
    ("flags", "level"),
    [
        ([], logging.INFO),
        (["--zap-devel"], logging.DEBUG),
        (["--zap-log-level=error"], logging.ERROR),
        (["--zap-log-level=3"], logging.DEBUG),
        (["--zap-log-level=0"], logging.INFO),
    ],
)
def test_zap_log_level_is_honoured(flags: list[str], level: int) -> None:
    from raykopf.cli import _log_level

    assert _log_level(parse(*flags)) == level
