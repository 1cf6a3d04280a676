"""Volumes the node agent sets up: a hostPath's `type` is checked as the kubelet checks it."""

from __future__ import annotations

from pathlib import Path

import pytest

from raykopf_local.agent import sandbox
from raykopf_local.agent.containers import Sources


def _pod(host_path: dict[str, str]) -> dict[str, object]:
    return {"spec": {"volumes": [{"name": "data", "hostPath": host_path}]}}


def _box(tmp_path: Path) -> sandbox.Sandbox:
    return sandbox.Sandbox(uid="0123456789abcdef", ip="198.18.0.2", directory=tmp_path / "box")


def test_directory_or_create_makes_the_host_directory_and_links_it(tmp_path: Path) -> None:
    host = tmp_path / "host" / "models"
    box = _box(tmp_path)
    sandbox.materialize_volumes(box, _pod({"path": str(host), "type": "DirectoryOrCreate"}), Sources())
    assert host.is_dir()
    (box.volume("data") / "model.pkl").write_text("x")  # written through the volume, seen on the host
    assert (host / "model.pkl").read_text() == "x"


def test_a_missing_directory_is_a_mount_failure_with_the_kubelets_message(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(
        sandbox.VolumeError, match=f"hostPath type check failed: {missing} is not a directory"
    ):
        sandbox.materialize_volumes(
            _box(tmp_path), _pod({"path": str(missing), "type": "Directory"}), Sources()
        )
    assert not missing.exists()


def test_an_untyped_host_path_is_linked_unchecked(tmp_path: Path) -> None:
    missing = tmp_path / "later"
    box = _box(tmp_path)
    sandbox.materialize_volumes(box, _pod({"path": str(missing)}), Sources())
    assert box.volume("data").is_symlink()
    assert not missing.exists()
