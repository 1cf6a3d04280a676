"""The documentation holds together: every relative link (and its #anchor) resolves, and every command
on the README's first screen exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FIRST_SCREEN = 60  # lines


def anchors(page: Path) -> set[str]:
    """GitHub's heading ids: lowercase, punctuation dropped, spaces as hyphens."""
    found = set()
    in_code = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        text = line.lstrip("#").strip().lower()
        found.add(re.sub(r"[^\w\- ]", "", text).replace(" ", "-"))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"^[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no {file.relative_to(ROOT) if file.is_relative_to(ROOT) else file}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def first_screen_commands() -> list[list[str]]:
    lines = (ROOT / "README.md").read_text().splitlines()[:FIRST_SCREEN]
    commands, in_shell = [], False
    for line in lines:
        if line.startswith("```"):
            in_shell = line.strip() in ("```sh", "```bash") if not in_shell else False
            continue
        if in_shell and line.strip() and not line.lstrip().startswith("#"):
            commands.append(shlex.split(line.split(" #")[0]))
    for inline in re.findall(r"`((?:sudo )?(?:make|\.venv/bin/raykopf|raykopf) [^`]+)`", "\n".join(lines)):
        commands.append(shlex.split(inline))
    return commands


def test_every_command_on_the_readmes_first_screen_exists() -> None:
    from raykopf.cli import build_parser
    from raykopf_local.cli import build_parser as local_parser

    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, re.MULTILINE))
    commands = first_screen_commands()
    assert ["make", "demo"] in commands
    assert any(c[-3:] == ["raykopf", "local", "down"] or c[-2:] == ["local", "down"] for c in commands), (
        commands
    )
    for command in commands:
        words = command[1:] if command[0] == "sudo" else command
        if words[0] == "make":
            assert all(target in targets for target in words[1:] if "=" not in target), command
        elif words[0].endswith("raykopf") and words[1] == "local":
            local_parser().parse_args(words[2:])  # exits (SystemExit) on an unknown action
        elif words[0].endswith("raykopf"):
            build_parser().parse_args(words[1:])
