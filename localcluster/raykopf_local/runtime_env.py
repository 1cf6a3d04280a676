"""The Ray runtime environment every container runs with: a virtualenv built from the same pinned
requirements file as the runtime image (`ray-runtime.txt`), cached by the file's hash."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from importlib import resources
from pathlib import Path

from raykopf_local.build import Say, run_step
from raykopf_local.paths import Layout


def requirements_text() -> str:
    return (resources.files("raykopf_local") / "ray-runtime.txt").read_text()


def venv_dir(layout: Layout) -> Path:
    digest = hashlib.sha256(requirements_text().encode()).hexdigest()[:12]
    return layout.cache / f"ray-runtime-py{sys.version_info.major}{sys.version_info.minor}-{digest}"


def runtime_bin(layout: Layout) -> Path:
    return venv_dir(layout) / "bin"


def ensure_runtime(layout: Layout, say: Say) -> Path:
    """Create the virtualenv once (about a minute); return its bin directory."""
    venv = venv_dir(layout)
    marker = venv / ".complete"
    if marker.exists():
        return venv / "bin"
    say(f"installing the Ray runtime into {venv} (about a minute)")
    log = layout.cache / "ray-runtime.log"
    requirements = layout.cache / "ray-runtime.txt"
    requirements.parent.mkdir(parents=True, exist_ok=True)
    requirements.write_text(requirements_text())
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    run_step([str(venv / "bin" / "pip"), "install", "--quiet", "-r", str(requirements)], log)
    marker.write_text("ok\n")
    return venv / "bin"
