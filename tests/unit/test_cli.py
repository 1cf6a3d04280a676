"""`raykopf validate -f FILE_OR_DIR`: output format and exit codes."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from raykopf.cli import main
from tests.unit.validation.manifests import raycluster, rayjob


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def write(path: Path, *docs: object) -> Path:
    path.write_text(yaml.safe_dump_all(docs))
    return path


def test_valid_multi_document_file_exits_zero(tmp_path: Path) -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "code"}, "data": {}}
    path = write(tmp_path / "ok.yaml", config_map, raycluster(), rayjob())
    code, out, err = run("validate", "-f", str(path))
    assert (code, out) == (0, "")
    assert err.strip() == "2 objects in 1 files: 0 errors, 0 warnings"


def test_each_problem_is_printed_as_file_kind_name_path_message(tmp_path: Path) -> None:
    broken = raycluster()
    broken["spec"]["workerGroupSpecs"][0]["minReplicas"] = 9
    broken["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["imagee"] = "x"
    path = write(tmp_path / "bad.yaml", rayjob(), broken)
    code, out, _ = run("validate", "-f", str(path))
    assert code == 1
    assert out.splitlines() == [
        f"{path}:RayCluster/demo: spec.headGroupSpec.template.spec.containers[0].imagee: "
        "unknown field 'imagee' (did you mean 'image'?)",
        f"{path}:RayCluster/demo: spec.workerGroupSpecs[0].minReplicas: "
        "minReplicas (9) must not be greater than maxReplicas (3)",
    ]


def test_directories_are_searched_and_warnings_do_not_fail(tmp_path: Path) -> None:
    (tmp_path / "nested").mkdir()
    warned = raycluster()
    warned["spec"]["enableInTreeAutoscale"] = True
    write(tmp_path / "nested" / "a.yml", warned)
    write(tmp_path / "b.yaml", rayjob())
    (tmp_path / "notes.txt").write_text("not yaml: [")
    code, out, err = run("validate", "-f", str(tmp_path))
    assert code == 0
    assert out.strip().endswith(
        "warning: spec.enableInTreeAutoscale: unknown field; the apiserver drops it, so it has no effect"
    )
    assert err.strip() == "2 objects in 2 files: 0 errors, 1 warnings"


def test_invalid_yaml_and_missing_files_are_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: RayCluster\nspec: [unclosed\n")
    code, out, _ = run("validate", "-f", str(bad), "-f", str(tmp_path / "missing.yaml"))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith(f"{bad}: invalid YAML:")
    assert lines[1].startswith(f"{tmp_path / 'missing.yaml'}: cannot read:")


def test_the_installed_command_runs(tmp_path: Path) -> None:
    path = write(tmp_path / "ok.yaml", raycluster())
    result = subprocess.run(
        [sys.executable, "-m", "raykopf", "validate", "-f", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_feature_gates_are_kuberays_and_unknown_ones_only_warn() -> None:
    from raykopf.config import parse_feature_gates

    gates, warnings = parse_feature_gates("RayJobDeletionPolicy=true, NoSuchGate=true,RayCronJob=true,Bad")
    assert gates["RayJobDeletionPolicy"] is True
    assert gates["RayClusterStatusConditions"] is True  # KubeRay's default
    assert gates["RayCronJob"] is True
    assert warnings == [
        "unknown feature gate 'NoSuchGate'; ignored",
        "feature gate RayCronJob is not implemented by raykopf; it has no effect",
        "feature gate 'Bad': expected NAME=true|false; ignored",
    ]
    assert parse_feature_gates("RayMultiHostIndexing=false")[1] == [
        "feature gate RayMultiHostIndexing cannot be turned off in raykopf; it stays on"
    ]


def test_run_flags_default_to_kuberays() -> None:
    from raykopf.cli import build_parser

    args = build_parser().parse_args(["run"])
    assert args.enable_leader_election is True
    assert args.enable_metrics is False
    assert (args.metrics_addr, args.health_probe_bind_address) == (":8080", ":8082")
    assert (args.qps, args.burst) == (100, 200)
    args = build_parser().parse_args(["run", "--enable-leader-election=false", "--enable-metrics"])
    assert args.enable_leader_election is False
    assert args.enable_metrics is True


def test_run_without_any_cluster_says_what_to_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    err = io.StringIO()
    assert main(["run", "--health-probe-bind-address=0"], out=io.StringIO(), err=err) == 1
    assert "pass --kubeconfig" in err.getvalue()


def test_raykopf_local_runs_the_local_clusters_own_command() -> None:
    """`raykopf local ...` hands every argument to `raykopf-local` (a separate distribution the operator
    never imports), `--help` included."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "raykopf"), "local", "kubectl"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("/bin/kubectl")
    helped = subprocess.run(
        [str(Path(sys.executable).parent / "raykopf"), "local", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert helped.returncode == 0
    assert helped.stdout.startswith("usage: raykopf local")


def test_raykopf_local_without_the_local_cluster_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("raykopf.cli._local_executable", lambda: None)
    code, _, err = run("local", "up")
    assert code == 1
    assert "pip install -e ./localcluster" in err


def test_the_webhook_is_off_unless_asked_for_and_on_at_kuberays_port_with_enable_webhooks() -> None:
    from raykopf.cli import build_parser, webhook_options
    from raykopf.config import OperatorConfig

    args = build_parser().parse_args(["run"])
    assert webhook_options(args, OperatorConfig.from_environment({}).enable_webhooks) is None
    assert not OperatorConfig.from_environment(
        {"ENABLE_WEBHOOKS": "True"}
    ).enable_webhooks  # KubeRay: == "true"
    on = webhook_options(args, OperatorConfig.from_environment({"ENABLE_WEBHOOKS": "true"}).enable_webhooks)
    assert on is not None
    assert on.address == ":9443"
    assert on.cert_dir == Path("/tmp/k8s-webhook-server/serving-certs")  # controller-runtime's, KubeRay's
    assert on.secret == ""  # certificates from files unless told to make them
    args = build_parser().parse_args(
        ["run", "--webhook-addr=:9999", "--webhook-cert-secret=s", "--webhook-configuration=c"]
    )
    made = webhook_options(args, True)
    assert made is not None
    assert (made.address, made.secret, made.configuration) == (":9999", "s", "c")
