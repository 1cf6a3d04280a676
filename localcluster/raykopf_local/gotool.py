"""Go programs built unchanged from their upstream module (KubeRay's operator, Kueue), each pinned by
a small wrapper module here (a `tool` directive in go.mod, every dependency in go.sum) and cached
under a key that changes with any pin."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from raykopf_local.build import (
    BuildError,
    go_command,
    go_environment,
    package_count,
    run_step,
    run_with_progress,
)
from raykopf_local.gomodule import module_digest, required_version

Say = Callable[[str], None]


@dataclass(frozen=True)
class GoTool:
    title: str
    """What the program is, for messages ("KubeRay's operator")."""
    wrapper: Path
    """The wrapper module's folder."""
    module: str
    """The upstream module whose version the wrapper pins."""
    main_package: str
    name: str
    """The cache folder's prefix."""

    @property
    def version(self) -> str:
        return required_version(self.wrapper, (self.wrapper / "go.mod").read_text(), self.module)

    def binary(self, cache: Path) -> Path:
        folder = f"{self.name}-{self.version}-{module_digest(self.wrapper)}"
        return cache / folder / self.main_package.rsplit("/", 1)[-1]

    def build(self, cache: Path, say: Say) -> Path:
        """Build once per pin; return the binary."""
        target = self.binary(cache)
        if os.access(target, os.X_OK):
            return target
        go = go_command()
        env = go_environment(go)
        log = cache / "build.log"
        started = time.monotonic()
        say(f"downloading {self.title} {self.version}'s Go modules (log: {log})")
        run_step([go, "mod", "download"], log, cwd=self.wrapper, env=env)
        total = package_count(go, env, [self.main_package], cwd=self.wrapper)
        say(f"building {self.title} {self.version} ({total} packages)")
        staging = target.parent.with_name(target.parent.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        command = [go, "build", "-v", "-trimpath", "-o", str(staging / target.name), self.main_package]
        run_with_progress(command, log, cwd=self.wrapper, env=env, total=total, say=say, started=started)
        shutil.rmtree(target.parent, ignore_errors=True)
        staging.rename(target.parent)
        say(f"built {self.title} in {time.monotonic() - started:.0f} s; cached at {target}")
        return target

    def source(self) -> Path:
        """The upstream module's files in Go's module cache (downloaded if missing): its manifests."""
        go = go_command()
        env = go_environment(go)
        listed = subprocess.run(
            [go, "mod", "download", "-json", f"{self.module}@{self.version}"],
            cwd=self.wrapper,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if listed.returncode != 0:
            raise BuildError(f"cannot download {self.module}@{self.version}: {listed.stderr.strip()[-500:]}")
        return Path(json.loads(listed.stdout)["Dir"])
