"""Long-running processes started in their own session, tracked by PID files, stopped by session."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path

from raykopf_local.hostenv import host_environment


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); read its state to tell.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Processes:
    """The control plane's processes, one PID file each under `run_dir`."""

    def __init__(self, run_dir: Path, log_dir: Path) -> None:
        self.run_dir = run_dir
        self.log_dir = log_dir

    def pid(self, name: str) -> int | None:
        path = self.run_dir / f"{name}.pid"
        try:
            pid = int(path.read_text())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> int:
        """Start `argv` in a new session unless it already runs, with `env` over the host's
        environment; return its PID.

        posix_spawn rather than subprocess.Popen: the process outlives this one, and a Popen object
        would warn when it is collected while its process still runs.
        """
        running = self.pid(name)
        if running is not None:
            return running
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log(name).open("ab") as out:
            actions = [
                (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, out.fileno(), 2),
            ]
            environment = {**host_environment(), **(env or {})}
            pid = os.posix_spawnp(argv[0], argv, environment, file_actions=actions, setsid=True)
        (self.run_dir / f"{name}.pid").write_text(str(pid))
        return pid

    def start_as(
        self, name: str, argv: list[str], *, grace: float, env: Mapping[str, str] | None = None
    ) -> int:
        """Start `argv` unless it already runs with exactly these arguments and `env`; one running
        with others is stopped first (SIGKILL after `grace` seconds). Return the PID."""
        recorded = self.run_dir / f"{name}.args"
        wanted = " ".join([*(f"{key}={value}" for key, value in sorted((env or {}).items())), *argv])
        if self.pid(name) is not None and (not recorded.exists() or recorded.read_text() != wanted):
            self.stop(name, grace=grace)
        pid = self.start(name, argv, env)
        recorded.write_text(wanted)
        return pid

    def forget_if_gone(self, name: str) -> bool:
        """Drop the PID file of a process that no longer runs (it crashed, or the machine restarted);
        True if there was one."""
        path = self.run_dir / f"{name}.pid"
        if not path.exists() or self.pid(name) is not None:
            return False
        path.unlink(missing_ok=True)
        return True

    def stop(self, name: str, grace: float = 10.0) -> bool:
        """SIGTERM the process's session, SIGKILL after `grace` seconds; False if it was not running."""
        pid = self.pid(name)
        (self.run_dir / f"{name}.pid").unlink(missing_ok=True)
        if pid is None:
            return False
        kill_session(pid, grace)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it when this process started it
        return True


def session_members(sid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def kill_session(sid: int, grace: float) -> None:
    """SIGTERM every process of session `sid`, then SIGKILL what is left after `grace` seconds."""
    for pid in session_members(sid):
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and session_members(sid):
        time.sleep(0.1)
    for pid in session_members(sid):
        _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and session_members(sid):
        time.sleep(0.05)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
