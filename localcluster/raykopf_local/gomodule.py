"""The wrapper Go module that pins the control plane's versions (its go.mod is the one place they are
written) and the facts read from it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

GO_MODULE = Path(__file__).resolve().parent / "kubernetes"
ETCD_PACKAGE = "go.etcd.io/etcd/server/v3"
# The binaries built and the upstream main package of each (the go.mod's `tool` directives).
MAIN_PACKAGES = {
    "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
    "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
    "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
    "kubectl": "k8s.io/kubernetes/cmd/kubectl",
    "etcd": ETCD_PACKAGE,
}
# Kubernetes stamps its version into both packages (hack/lib/version.sh); kubectl and the apiserver
# compare them, and `kubectl version` prints them.
VERSION_PACKAGES = ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version")


class PinError(RuntimeError):
    """The wrapper module does not say which version to build."""


@dataclass(frozen=True)
class Pins:
    """The versions the wrapper module requires, and a digest of its go.mod and go.sum."""

    kubernetes: str
    etcd: str
    digest: str

    @classmethod
    def read(cls, module: Path = GO_MODULE) -> Pins:
        go_mod = (module / "go.mod").read_text()
        return cls(
            kubernetes=required_version(module, go_mod, "k8s.io/kubernetes"),
            etcd=required_version(module, go_mod, ETCD_PACKAGE),
            digest=module_digest(module),
        )

    def ldflags(self, build_date: str) -> str:
        major, minor = self.kubernetes.removeprefix("v").split(".")[:2]
        stamps = {
            "gitVersion": self.kubernetes,
            "gitMajor": major,
            "gitMinor": minor,
            "gitTreeState": "clean",
            "buildDate": build_date,
        }
        flags = [
            f"-X {package}.{key}={value}" for package in VERSION_PACKAGES for key, value in stamps.items()
        ]
        return " ".join(["-s", "-w", *flags])


def module_digest(folder: Path) -> str:
    """A digest of a wrapper module's go.mod and go.sum: a build cache key that changes with any pin."""
    return hashlib.sha256((folder / "go.mod").read_bytes() + (folder / "go.sum").read_bytes()).hexdigest()[
        :12
    ]


def required_version(folder: Path, go_mod: str, module: str) -> str:
    found = re.search(rf"^\s*(?:require[ \t]+)?{re.escape(module)}[ \t]+(v\S+)", go_mod, re.MULTILINE)
    if found is None:
        raise PinError(f"{folder / 'go.mod'} does not require {module}")
    return found.group(1)
