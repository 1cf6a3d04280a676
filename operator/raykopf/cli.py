"""The `raykopf` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from raykopf import __version__
from raykopf.manifests import expand, read_documents
from raykopf.validation import KINDS, validate


def _validate_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    files = expand(args.filename)
    objects = errors = warnings = 0
    for path in files:
        for doc in read_documents(path):
            if doc.error is not None:
                print(f"{path}: {doc.error}", file=out)
                errors += 1
                continue
            if not doc.is_ray:
                continue
            if doc.body.get("kind") not in KINDS:
                print(
                    f"{path}:{doc.label}: warning: kind is not one raykopf manages; not validated", file=out
                )
                warnings += 1
                continue
            objects += 1
            for problem in validate(doc.body):
                print(f"{path}:{doc.label}: {problem}", file=out)
                errors += problem.is_error
                warnings += not problem.is_error
    print(f"{objects} objects in {len(files)} files: {errors} errors, {warnings} warnings", file=err)
    return 1 if errors or not files else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="raykopf", description="A kopf-based, drop-in replacement for KubeRay."
    )
    parser.add_argument("--version", action="version", version=f"raykopf {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser(
        "validate",
        help="validate RayCluster, RayJob and RayService manifests offline",
        description="Validate ray.io manifests offline. Prints `file:kind/name: path: message` for each "
        "problem; exits 0 when every object is valid (warnings allowed), 1 otherwise.",
    )
    check.add_argument(
        "-f",
        "--filename",
        type=Path,
        action="append",
        required=True,
        metavar="FILE_OR_DIR",
        help="a YAML file (multi-document) or a directory searched recursively; repeatable",
    )
    check.set_defaults(handler=_validate_command)
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args, out or sys.stdout, err or sys.stderr))
