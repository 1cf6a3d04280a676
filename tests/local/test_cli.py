"""`raykopf local` arguments."""

from __future__ import annotations

import pytest

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
