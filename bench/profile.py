"""Where an operator's CPU went, from py-spy's collapsed stacks (`py-spy record --format raw`).

    python -m bench.profile PROFILE [--top 25]

Prints the functions with the largest share of samples, inclusive (the function and what it called)
and self (the function's own frames), with file names shortened to the package path.
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

# "function (path/to/file.py:123)" as py-spy writes a frame.
FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")


def short(frame: str) -> str:
    match = FRAME.match(frame)
    if match is None:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "/operator/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['function']} ({path})"


def shares(lines: list[str]) -> tuple[int, collections.Counter[str], collections.Counter[str]]:
    """Total samples; per function the samples it was anywhere on the stack, and at the top of it."""
    total, inclusive, own = 0, collections.Counter[str](), collections.Counter[str]()
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [short(f) for f in stack.split(";")]
        samples = int(count)
        total += samples
        for frame in set(frames[1:]):  # frames[0] is the thread
            inclusive[frame] += samples
        own[frames[-1]] += samples
    return total, inclusive, own


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    total, inclusive, own = shares(args.profile.read_text().splitlines())
    for title, counter in (("inclusive", inclusive), ("self", own)):
        print(f"{title} (of {total} samples):")
        for frame, samples in counter.most_common(args.top):
            print(f"  {100 * samples / total:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
