"""House rules that keep configuration explicit: the environment is read in one module only."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "operator" / "raykopf"
LOCAL_PACKAGE = ROOT / "localcluster" / "raykopf_local"
# The operator reads its settings in config.py; the local cluster hands the host environment to the
# processes it starts through hostenv.py.
ALLOWED = {PACKAGE / "config.py", LOCAL_PACKAGE / "hostenv.py"}


def _reads_environment(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "putenv"}:
            lines.append(node.lineno)
        imported = node.names if isinstance(node, ast.ImportFrom) and node.module == "os" else []
        if any(alias.name in {"environ", "getenv"} for alias in imported):
            lines.append(node.lineno)
    return lines


def test_only_config_reads_the_environment() -> None:
    offenders = {
        str(path.relative_to(ROOT)): lines
        for path in sorted([*PACKAGE.rglob("*.py"), *LOCAL_PACKAGE.rglob("*.py")])
        if path not in ALLOWED and (lines := _reads_environment(ast.parse(path.read_text())))
    }
    assert offenders == {}


def test_the_source_root_is_not_a_package() -> None:
    # A package named `operator` would shadow Python's stdlib module of that name.
    assert not (PACKAGE.parent / "__init__.py").exists()
