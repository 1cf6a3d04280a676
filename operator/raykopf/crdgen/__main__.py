"""`python -m raykopf.crdgen --write` regenerates the CRDs; `--check` fails when they are stale."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from raykopf.crdgen.render import check, write


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m raykopf.crdgen", description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="write crds/ and helm/raykopf/crds/")
    mode.add_argument("--check", action="store_true", help="exit 1 if the committed CRDs are stale")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root (default: .)")
    args = parser.parse_args(argv)
    if args.write:
        for path in write(args.root):
            print(f"wrote {path.relative_to(args.root)}")
        return 0
    stale = check(args.root)
    for stale_path in stale:
        print(f"stale: {stale_path} (run: python -m raykopf.crdgen --write)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
