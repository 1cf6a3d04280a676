"""PID files of the local cluster's processes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from raykopf_local.proc import Processes


def test_a_record_of_a_process_that_exited_is_forgotten_and_a_running_one_kept(tmp_path: Path) -> None:
    processes = Processes(tmp_path / "run", tmp_path / "logs")
    exited = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "operator.pid").write_text(exited.stdout.strip())
    pid = processes.start("kuberay-operator", ["sleep", "30"])
    try:
        assert processes.pid("operator") is None
        assert processes.forget_if_gone("operator") is True
        assert not (tmp_path / "run" / "operator.pid").exists()
        assert processes.forget_if_gone("operator") is False  # nothing left to forget
        assert processes.forget_if_gone("kuberay-operator") is False
        assert processes.pid("kuberay-operator") == pid
    finally:
        processes.stop("kuberay-operator", grace=1)


def written(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_a_process_started_with_other_env_is_restarted_with_the_new_env(tmp_path: Path) -> None:
    processes = Processes(tmp_path / "run", tmp_path / "logs")
    seen = tmp_path / "seen"
    argv = ["sh", "-c", f'echo "$KNOB" >> {seen}; exec sleep 30']
    try:
        first = processes.start_as("peer", argv, grace=1, env={"KNOB": "a"})
        assert processes.start_as("peer", argv, grace=1, env={"KNOB": "a"}) == first  # unchanged: kept
        second = processes.start_as("peer", argv, grace=1, env={"KNOB": "b"})
        assert second != first
        assert processes.pid("peer") == second
        deadline = time.monotonic() + 10
        while written(seen) != ["a", "b"]:  # each start saw the env it was given
            assert time.monotonic() < deadline, written(seen)
            time.sleep(0.05)
    finally:
        processes.stop("peer", grace=1)
