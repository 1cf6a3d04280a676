"""`raykopf local` arguments."""

from __future__ import annotations

import pytest

from raykopf_local import demo
from raykopf_local.cli import build_parser


def test_kuberay_peer_takes_its_environment_as_repeated_name_value_pairs() -> None:
    args = build_parser().parse_args(
        ["kuberay", "start", "--watch-namespace", "a,b", "--env", "ENABLE_LOGIN_SHELL=true", "--env", "X=a=b"]
    )
    assert dict(args.env) == {"ENABLE_LOGIN_SHELL": "true", "X": "a=b"}


def test_an_env_setting_without_a_name_and_value_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(
            ["kuberay", "start", "--watch-namespace", "a", "--env", "ENABLE_LOGIN_SHELL"]
        )
    assert "expected NAME=VALUE, got 'ENABLE_LOGIN_SHELL'" in capsys.readouterr().err


def test_demo_runs_the_sample_rayjob_unless_another_sample_is_named() -> None:
    assert build_parser().parse_args(["demo"]).sample == "rayjob"
    assert build_parser().parse_args(["demo", "--sample", "digits-serve"]).sample == "digits-serve"


def test_an_unknown_demo_sample_is_refused_with_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--sample", "mnist"])
    assert "invalid choice: 'mnist'" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(demo.SAMPLES))
def test_each_demo_sample_is_a_repository_sample_with_one_ray_workload(name: str) -> None:
    kinds = [doc["kind"] for doc in demo._documents(demo.SAMPLES[name])]
    assert sum(kind in ("RayJob", "RayService") for kind in kinds) == 1
    # Those that read the trained model mount the folder the training sample writes it to.
    text = (demo._samples_dir() / demo.SAMPLES[name].file).read_text()
    assert (str(demo.MODEL.parent) in text) == (demo.SAMPLES[name].needs_model or name == "digits-train")
