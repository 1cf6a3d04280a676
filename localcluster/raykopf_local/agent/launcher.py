"""The shell script that turns a process into a container: a private /tmp (empty at each start) and
/dev/shm, volume mounts, hostname, working directory, then `exec` of the container's command.

It runs under `ip netns exec <pod> unshare --mount --uts --propagation private`, so every mount it
makes is private to the container. Mount points that do not exist on the host are created inside an
overlay of their nearest existing parent, so that nothing is left behind on the host's disk.
"""

from __future__ import annotations

import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raykopf_local.agent.sandbox import Sandbox


@dataclass(frozen=True)
class Mount:
    source: Path
    target: str
    read_only: bool


class MountError(Exception):
    pass


def container_mounts(sandbox: Sandbox, container: dict[str, Any]) -> list[Mount]:
    mounts = []
    for mount in container.get("volumeMounts") or []:
        source = sandbox.volume(mount["name"])
        if not source.exists() and not source.is_symlink():
            raise MountError(f"volume {mount['name']!r} is not defined in the pod")
        if source.is_symlink():
            source = Path(os.readlink(source))
        if mount.get("subPath"):
            source = source / mount["subPath"]
            if not source.exists():
                source.mkdir(parents=True)
        mounts.append(Mount(source, mount["mountPath"], bool(mount.get("readOnly"))))
    return mounts


def _existing_ancestor(path: str) -> str:
    current = os.path.normpath(path)
    while not os.path.lexists(current):
        current = os.path.dirname(current)
    return os.path.realpath(current)


def script(
    sandbox: Sandbox,
    container: dict[str, Any],
    hostname: str,
    working_dir: str | None,
    keep: tuple[Path, ...] = (),
) -> tuple[str, list[str]]:
    """The launcher's text and the host directories it had to create (removed at teardown). `keep`:
    host directories under /tmp that stay visible through the private /tmp (the project's own
    environment when the repository itself lives under /tmp)."""
    base = sandbox.container_dir(container["name"])
    # A restarted container starts from its image again, as under kubelet: nothing its last run left
    # in /tmp (a second `ray start` would find the first one's sockets and pick other names).
    shutil.rmtree(base / "tmp", ignore_errors=True)
    (base / "tmp").mkdir(parents=True, exist_ok=True)
    (base / "tmp").chmod(0o1777)
    kept = [path for path in keep if path.is_relative_to("/tmp") and path != Path("/tmp")]
    mounts = container_mounts(sandbox, container)
    targets = [m.target for m in mounts] + ([working_dir] if working_dir else [])
    overlays: dict[str, Path] = {}
    created_on_host: list[str] = []
    for target in targets:
        # The private /tmp is the container's own: a target there is made in it (an overlay on /tmp
        # would hide the directories kept through it).
        if Path(target).is_relative_to("/tmp") or os.path.lexists(target):
            continue
        ancestor = _existing_ancestor(target)
        if ancestor == "/":
            created_on_host.append(os.path.normpath(target))
        elif ancestor not in overlays and not any(ancestor.startswith(o + "/") for o in overlays):
            overlays[ancestor] = base / "overlays" / str(len(overlays))
    lines = ["set -eu", f"hostname {shlex.quote(hostname)}"]
    for path in kept:  # bound into the private /tmp while the host's /tmp is still in view
        inside = base / "tmp" / path.relative_to("/tmp")
        inside.mkdir(parents=True, exist_ok=True)
        lines.append(f"mount --bind {shlex.quote(str(path))} {shlex.quote(str(inside))}")
    lines += [
        f"mount --{'rbind' if kept else 'bind'} {shlex.quote(str(base / 'tmp'))} /tmp",
        f"mount --bind {shlex.quote(str(sandbox.shm))} /dev/shm",
    ]
    for lower, folder in sorted(overlays.items(), key=lambda kv: len(kv[0])):
        (folder / "upper").mkdir(parents=True, exist_ok=True)
        (folder / "work").mkdir(parents=True, exist_ok=True)
        options = f"lowerdir={lower},upperdir={folder / 'upper'},workdir={folder / 'work'}"
        lines.append(f"mount -t overlay overlay -o {shlex.quote(options)} {shlex.quote(lower)}")
    for mount in mounts:
        target = shlex.quote(mount.target)
        if mount.source.is_dir():
            lines.append(f"mkdir -p {target}")
        else:
            lines.append(f"mkdir -p $(dirname {target}) && touch {target}")
        lines.append(f"mount --bind {shlex.quote(str(mount.source))} {target}")
        if mount.read_only:
            lines.append(f"mount -o remount,bind,ro {target}")
    if working_dir:
        lines.append(f"mkdir -p {shlex.quote(working_dir)}")
        lines.append(f"cd {shlex.quote(working_dir)}")
    else:
        lines.append(f"cd {shlex.quote(str(base / 'tmp'))}")
    lines.append('exec "$@"')
    return "\n".join(lines) + "\n", created_on_host
