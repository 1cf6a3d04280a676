"""The project's licence is stated once and shipped: the Apache License 2.0 text, as the packages declare."""

from __future__ import annotations

import tomllib
from pathlib import Path


def test_the_license_file_is_apache_2_and_matches_the_packages(repo_root: Path) -> None:
    text = (repo_root / "LICENSE").read_text()
    assert text.split()[:4] == ["Apache", "License", "Version", "2.0,"]
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
    for project in (repo_root / "pyproject.toml", repo_root / "localcluster" / "pyproject.toml"):
        assert tomllib.loads(project.read_text())["project"]["license"] == "Apache-2.0"
