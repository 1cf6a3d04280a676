"""Where the local cluster keeps its build cache and its running state."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from raykopf_local.gomodule import Pins


@dataclass(frozen=True)
class Layout:
    """Cache (kept across runs, outside the repository) and state (one running cluster)."""

    cache: Path
    state: Path

    @classmethod
    def default(cls) -> Layout:
        return cls(cache=Path.home() / ".cache" / "raykopf", state=Path("/var/lib/raykopf-local"))

    @functools.cached_property
    def bin(self) -> Path:
        """The built binaries, keyed by the Kubernetes version and the wrapper module's digest (read
        once per layout)."""
        pins = Pins.read()
        return self.cache / f"kubernetes-{pins.kubernetes}-{pins.digest}" / "bin"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def pki(self) -> Path:
        return self.state / "pki"

    @property
    def kubeconfig(self) -> Path:
        return self.state / "admin.kubeconfig"

    def binary(self, name: str) -> Path:
        return self.bin / name
