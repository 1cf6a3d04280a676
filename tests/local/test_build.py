"""The wrapper Go module the control plane is built from: what it pins, and that it maps every staging
module of the pinned Kubernetes release (read from that release's own go.mod, through the Go module
proxy) to its published version."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from raykopf_local.build import go_command
from raykopf_local.gomodule import ETCD_PACKAGE, GO_MODULE, MAIN_PACKAGES, PinError, Pins
from raykopf_local.paths import Layout

GO_MOD = (GO_MODULE / "go.mod").read_text()


def _block(text: str, directive: str) -> list[str]:
    found = re.search(rf"^{directive} \((.*?)^\)", text, re.MULTILINE | re.DOTALL)
    assert found is not None, f"no {directive} block"
    return [
        line.split("//")[0].strip() for line in found.group(1).splitlines() if line.split("//")[0].strip()
    ]


@pytest.fixture(scope="module")
def upstream_go_mod() -> str:
    """The pinned k8s.io/kubernetes release's own go.mod."""
    pins = Pins.read()
    listed = subprocess.run(
        [go_command(), "mod", "download", "-json", f"k8s.io/kubernetes@{pins.kubernetes}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return Path(json.loads(listed.stdout)["GoMod"]).read_text()


def test_the_pins_are_a_current_kubernetes_and_the_etcd_it_requires(upstream_go_mod: str) -> None:
    pins = Pins.read()
    assert re.fullmatch(r"v1\.(\d+)\.\d+", pins.kubernetes)
    assert int(pins.kubernetes.split(".")[1]) >= 34
    etcd = re.search(rf"^\s*{re.escape(ETCD_PACKAGE)} (v\S+)", upstream_go_mod, re.MULTILINE)
    assert etcd is not None
    assert pins.etcd == etcd.group(1)
    assert pins.etcd.startswith("v3.6.")


def test_every_staging_module_of_the_release_is_replaced_by_its_published_version(
    upstream_go_mod: str,
) -> None:
    staging = dict(re.findall(r"^\s*(k8s\.io/\S+) => (\./staging/\S+)", upstream_go_mod, re.MULTILINE))
    assert len(staging) > 25
    minor_patch = Pins.read().kubernetes.removeprefix("v1.")
    wanted = {f"{name} => {name} v0.{minor_patch}" for name in staging}
    assert set(_block(GO_MOD, "replace")) == wanted


def test_the_tools_built_are_the_upstream_main_packages() -> None:
    assert set(_block(GO_MOD, "tool")) == set(MAIN_PACKAGES.values())
    assert MAIN_PACKAGES["kube-apiserver"] == "k8s.io/kubernetes/cmd/kube-apiserver"
    assert MAIN_PACKAGES["kubectl"] == "k8s.io/kubernetes/cmd/kubectl"
    assert MAIN_PACKAGES["etcd"] == "go.etcd.io/etcd/server/v3"


def test_the_version_is_stamped_as_kubernetes_own_build_does() -> None:
    flags = Pins(kubernetes="v1.36.3", etcd="v3.6.8", digest="x").ldflags("2026-07-22T18:07:38Z").split()
    for package in ("k8s.io/client-go/pkg/version", "k8s.io/component-base/version"):
        assert f"{package}.gitVersion=v1.36.3" in flags
        assert f"{package}.gitMajor=1" in flags
        assert f"{package}.gitMinor=36" in flags
        assert f"{package}.buildDate=2026-07-22T18:07:38Z" in flags


def test_the_cache_is_keyed_by_version_and_module_digest(tmp_path: Path) -> None:
    copy = tmp_path / "module"
    shutil.copytree(GO_MODULE, copy)
    before = Pins.read(copy)
    (copy / "go.sum").write_text((copy / "go.sum").read_text() + "example.com/x v1.0.0 h1:abc=\n")
    after = Pins.read(copy)
    assert before.kubernetes == after.kubernetes
    assert before.digest != after.digest
    layout = Layout(cache=tmp_path / "cache", state=tmp_path / "state")
    assert layout.bin.parent.name == f"kubernetes-{Pins.read().kubernetes}-{Pins.read().digest}"
    assert layout.bin.parent.parent == tmp_path / "cache"


def test_a_module_without_the_pin_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module example.com/x\n\ngo 1.26.0\n")
    (tmp_path / "go.sum").write_text("")
    with pytest.raises(PinError, match=re.escape("does not require k8s.io/kubernetes")):
        Pins.read(tmp_path)
