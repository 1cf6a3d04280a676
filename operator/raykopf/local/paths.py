"""Where the local cluster keeps its build cache and its running state."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

KUBERNETES_SOURCE_PACKAGE = "kubernetes"
KUBERNETES_VERSION = "1.20.2"
# Bumped whenever the source patches change, so that cached binaries are rebuilt.
BUILD_REVISION = 3
GO_BIN = Path("/usr/lib/go-1.19/bin")
CONTROL_PLANE_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


@dataclass(frozen=True)
class Layout:
    """Cache (kept across runs, outside the repository) and state (one running cluster)."""

    cache: Path
    state: Path

    @classmethod
    def default(cls) -> Layout:
        return cls(cache=Path.home() / ".cache" / "raykopf", state=Path("/var/lib/raykopf-local"))

    @property
    def source(self) -> Path:
        return self.cache / "src"

    @property
    def bin(self) -> Path:
        return self.cache / f"kubernetes-{KUBERNETES_VERSION}-r{BUILD_REVISION}" / "bin"

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
