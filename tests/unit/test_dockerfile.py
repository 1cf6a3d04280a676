"""The two images come from one Dockerfile: the operator non-root with no build tools, the Ray runtime
from the very requirements file the local node agent's runtime environment is built from."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from raykopf_local.runtime_env import requirements_text


def stages(repo_root: Path) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    current = ""
    for line in (repo_root / "Dockerfile").read_text().splitlines():
        if line.startswith("FROM "):
            current = line.split(" AS ")[-1].strip()
            result[current] = []
        elif current and line.strip() and not line.startswith("#"):
            result[current].append(line.strip())
    return result


def test_the_operator_image_runs_as_a_numeric_non_root_user_without_build_tools(repo_root: Path) -> None:
    operator = stages(repo_root)["operator"]
    assert "USER 65532:65532" in operator
    assert 'ENTRYPOINT ["raykopf"]' in operator
    text = "\n".join(operator)
    for tool in ("gcc", "build-essential", "apt-get install"):
        assert tool not in text
    assert "PYTHONDONTWRITEBYTECODE=1" in text  # nothing written next to the code: read-only root works


def test_the_runtime_image_installs_the_agents_pinned_requirements(repo_root: Path) -> None:
    runtime = "\n".join(stages(repo_root)["runtime"])
    assert "COPY localcluster/raykopf_local/ray-runtime.txt" in runtime
    assert "pip install --no-cache-dir -r /tmp/ray-runtime.txt" in runtime
    assert (repo_root / "localcluster/raykopf_local/ray-runtime.txt").read_text() == requirements_text()
    # Ray at the version the samples name, with the libraries the workload samples import.
    assert "ray[default,serve,tune,data]==2.60.0" in requirements_text()
    assert re.search(r"^scikit-learn==", requirements_text(), re.MULTILINE)


def test_the_operator_image_carries_neither_the_local_cluster_nor_its_dependencies(repo_root: Path) -> None:
    build = "\n".join(stages(repo_root)["build"])
    assert "COPY operator ./operator" in build
    assert "localcluster" not in build
    project = tomllib.loads((repo_root / "pyproject.toml").read_text())
    assert project["tool"]["setuptools"]["packages"]["find"] == {"where": ["operator"]}
    assert not (repo_root / "operator" / "raykopf_local").exists()
    assert not (repo_root / "operator" / "raykopf" / "local").exists()
    # cryptography makes the webhook's own certificate: imported only then, never at start.
    probe = "import sys, raykopf.cli, raykopf.runtime.run, raykopf.runtime.admission; print('cryptography' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "False"


def test_every_stage_starts_from_the_one_base_image_argument(repo_root: Path) -> None:
    """One build argument names the base image, so a release pins all three stages by digest at once."""
    lines = (repo_root / "Dockerfile").read_text().splitlines()
    froms = [line for line in lines if line.startswith("FROM ")]
    assert froms == [f"FROM ${{PYTHON_IMAGE}} AS {stage}" for stage in ("build", "operator", "runtime")]
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in lines
