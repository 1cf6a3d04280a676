"""The container launcher script: private /tmp and /dev/shm, mounts, and no mount point left on the host."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from raykopf_local.agent.launcher import MountError, script
from raykopf_local.agent.sandbox import Sandbox


def box(tmp_path: Path) -> Sandbox:
    sandbox = Sandbox(uid="0123456789abcdef", ip="198.18.0.2", directory=tmp_path / "pod")
    (sandbox.volume("code")).mkdir(parents=True)
    (sandbox.volume("token")).mkdir(parents=True)
    return sandbox


@pytest.fixture
def outside_tmp() -> Iterator[Path]:
    """A host directory outside /tmp (under /tmp, a mount point is made in the private /tmp)."""
    folder = Path(tempfile.mkdtemp(dir="/var/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_mount_points_under_an_existing_directory_use_an_overlay(tmp_path: Path, outside_tmp: Path) -> None:
    sandbox = box(tmp_path)
    existing = outside_tmp / "existing"
    existing.mkdir()
    container = {
        "name": "ray",
        "volumeMounts": [
            {"name": "code", "mountPath": str(existing / "not" / "yet"), "readOnly": True},
            {"name": "token", "mountPath": str(existing / "also" / "new")},
        ],
    }
    text, created = script(sandbox, container, "head-0", None)
    assert created == []
    lines = text.splitlines()
    assert lines[:4] == [
        "set -eu",
        "hostname head-0",
        f"mount --bind {sandbox.container_dir('ray') / 'tmp'} /tmp",
        f"mount --bind {sandbox.shm} /dev/shm",
    ]
    overlays = [line for line in lines if line.startswith("mount -t overlay")]
    assert len(overlays) == 1
    assert overlays[0].endswith(f" {existing}")
    assert f"mount --bind {sandbox.volume('code')} {existing / 'not' / 'yet'}" in lines
    assert f"mount -o remount,bind,ro {existing / 'not' / 'yet'}" in lines
    assert lines[-1] == 'exec "$@"'


def test_a_mount_point_at_the_root_is_recorded_for_removal(tmp_path: Path) -> None:
    sandbox = box(tmp_path)
    target = "/raykopf-test-mount-point-that-does-not-exist"
    _, created = script(
        sandbox, {"name": "c", "volumeMounts": [{"name": "code", "mountPath": target}]}, "p", None
    )
    assert created == [target]


def test_an_undeclared_volume_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MountError, match="not defined"):
        script(box(tmp_path), {"name": "c", "volumeMounts": [{"name": "nope", "mountPath": "/x"}]}, "p", None)


def test_kept_host_paths_under_tmp_stay_visible_through_the_private_tmp(tmp_path: Path) -> None:
    sandbox = box(tmp_path)
    private = sandbox.container_dir("op") / "tmp"
    keep = (Path("/tmp/ci/main/.venv"), Path("/tmp/ci/main/operator"), Path("/opt/elsewhere"))
    text, _ = script(sandbox, {"name": "op"}, "operator-0", None, keep=keep)
    assert text.splitlines()[2:6] == [
        f"mount --bind /tmp/ci/main/.venv {private / 'ci/main/.venv'}",
        f"mount --bind /tmp/ci/main/operator {private / 'ci/main/operator'}",
        f"mount --rbind {private} /tmp",  # recursive: the two binds come along
        f"mount --bind {sandbox.shm} /dev/shm",
    ]
    assert (private / "ci/main/.venv").is_dir()
    assert "/opt/elsewhere" not in text  # outside /tmp: visible anyway


def test_a_volume_under_tmp_is_mounted_in_the_private_tmp_without_hiding_the_kept_paths(
    tmp_path: Path,
) -> None:
    """controller-runtime's certificate folder (/tmp/k8s-webhook-server/serving-certs) on an operator
    Pod whose environment is kept through /tmp: an overlay on /tmp would hide the kept binds."""
    sandbox = box(tmp_path)
    target = "/tmp/k8s-webhook-server/serving-certs"
    container = {"name": "op", "volumeMounts": [{"name": "token", "mountPath": target}]}
    text, created = script(sandbox, container, "operator-0", None, keep=(Path("/tmp/ci/main/.venv"),))
    lines = text.splitlines()
    assert created == []
    assert not [line for line in lines if line.startswith("mount -t overlay")]
    private = sandbox.container_dir("op") / "tmp"
    assert lines.index(f"mount --rbind {private} /tmp") < lines.index(f"mkdir -p {target}")
    assert f"mount --bind {sandbox.volume('token')} {target}" in lines


def test_a_restarted_container_gets_an_empty_tmp(tmp_path: Path) -> None:
    """kubelet starts a restarted container from its image: what the last run wrote to /tmp is gone
    (Ray's second `ray start` would otherwise see the first one's sockets and rename its own)."""
    sandbox = box(tmp_path)
    script(sandbox, {"name": "ray"}, "head-0", None)
    left = sandbox.container_dir("ray") / "tmp" / "ray" / "session_latest" / "sockets" / "raylet"
    left.parent.mkdir(parents=True)
    left.write_text("")
    script(sandbox, {"name": "ray"}, "head-0", None)
    tmp = sandbox.container_dir("ray") / "tmp"
    assert tmp.is_dir()
    assert list(tmp.iterdir()) == []
    assert tmp.stat().st_mode & 0o1777 == 0o1777
