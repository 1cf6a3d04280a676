"""Builds kube-apiserver, kube-controller-manager and kube-scheduler v1.20.2 from Debian's source
package, once, into a cache outside the repository.

The vendored reflect2 v1.0.1 links to the Go runtime's `mapiterinit` with its pre-Go-1.18 signature,
which crashes the apiserver on the first custom object, and the vendored go-openapi rejects empty
strings in custom objects when built with Go >= 1.19; `patch_sources` fixes both before building.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

from raykopf.local.hostenv import host_environment, host_path
from raykopf.local.paths import CONTROL_PLANE_BINARIES, GO_BIN, KUBERNETES_SOURCE_PACKAGE, Layout

APT_PACKAGES = (
    "golang-1.19-go",
    "jq",
    "rsync",
    "etcd-server",
    "dnsmasq-base",
    "iptables",
    "iproute2",
    "util-linux",
)
DEB_SRC_FILE = Path("/etc/apt/sources.list.d/raykopf-deb-src.sources")
DEBIAN_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")

Say = Callable[[str], None]


class BuildError(RuntimeError):
    """A failed step: the command and where its full log is."""


def run_step(
    command: list[str], log: Path, *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(command)}\n".encode())
        out.flush()
        result = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        raise BuildError(f"`{' '.join(command)}` failed with exit code {result.returncode}; see {log}")


def ensure_deb_src(say: Say, log: Path) -> None:
    """Add deb-src entries derived from the machine's own Debian source list (same mirrors)."""
    if DEB_SRC_FILE.exists():
        return
    if not DEBIAN_SOURCES.exists():
        raise BuildError(f"{DEBIAN_SOURCES} not found: cannot derive a deb-src entry for `apt-get source`")
    say("adding deb-src entries derived from the machine's Debian sources")
    lines = [
        "Types: deb-src" if line.strip() == "Types: deb" else line
        for line in DEBIAN_SOURCES.read_text().splitlines()
    ]
    DEB_SRC_FILE.write_text("\n".join(lines) + "\n")
    run_step(["apt-get", "update", "-qq"], log)


def ensure_packages(say: Say, log: Path) -> None:
    missing = [
        name
        for name in APT_PACKAGES
        if subprocess.run(["dpkg", "-s", name], capture_output=True, check=False).returncode != 0
    ]
    if missing:
        say(f"installing Debian packages: {' '.join(missing)}")
        env = host_environment(DEBIAN_FRONTEND="noninteractive")
        run_step(["apt-get", "install", "-y", "-qq", *missing], log, env=env)


def _source_tree(layout: Layout) -> Path | None:
    found = sorted(layout.source.glob("tree/kubernetes-*/Makefile"))
    return found[0].parent if found else None


def ensure_source(say: Say, log: Path, layout: Layout) -> Path:
    tree = _source_tree(layout)
    if tree is not None:
        return tree
    layout.source.mkdir(parents=True, exist_ok=True)
    say("downloading Debian's kubernetes source package (35 MB)")
    run_step(["apt-get", "source", "--download-only", KUBERNETES_SOURCE_PACKAGE], log, cwd=layout.source)
    (archive,) = layout.source.glob("*.orig.tar.gz")
    say("unpacking the source")
    with tarfile.open(archive) as tar:
        tar.extractall(layout.source / "tree", filter="tar")
    tree = _source_tree(layout)
    if tree is None:
        raise BuildError(f"no kubernetes source tree in {layout.source / 'tree'}")
    return tree


_HITER_V101 = """type hiter struct {
	key   unsafe.Pointer // Must be in first position.  Write nil to indicate iteration end (see cmd/internal/gc/range.go).
	value unsafe.Pointer // Must be in second position (see cmd/internal/gc/range.go).
	// rest fields are ignored
}"""
# The runtime's own layout since Go 1.18: mapiterinit fills a caller-allocated iterator.
_HITER_FULL = """type hiter struct {
	key         unsafe.Pointer
	value       unsafe.Pointer
	t           unsafe.Pointer
	h           unsafe.Pointer
	buckets     unsafe.Pointer
	bptr        unsafe.Pointer
	overflow    *[]unsafe.Pointer
	oldoverflow *[]unsafe.Pointer
	startBucket uintptr
	offset      uint8
	wrapped     bool
	B           uint8
	i           uint8
	bucket      uintptr
	checkBucket uintptr
}"""
# Go >= 1.19 returns the same pointer for reflect.Zero("") and for "" in an interface, so the vendored
# go-openapi type check took every empty string in a custom object for null (`rayVersion: ""` was
# rejected). With the Go 1.15 that 1.20.2 was released with, the check only ever matched nil.
_OPENAPI_ZERO_CHECK = (
    "\tif data == nil || reflect.DeepEqual(reflect.Zero(reflect.TypeOf(data)), reflect.ValueOf(data)) {",
    "\tif data == nil {",
)
_PATCHES = {
    "github.com/modern-go/reflect2/unsafe_link.go": [
        (
            "func mapiterinit(rtype unsafe.Pointer, m unsafe.Pointer) *hiter",
            "func mapiterinit(rtype unsafe.Pointer, m unsafe.Pointer, it *hiter)",
        ),
        (_HITER_V101, _HITER_FULL),
    ],
    "github.com/modern-go/reflect2/unsafe_map.go": [
        (
            "\treturn &UnsafeMapIterator{\n\t\thiter:      mapiterinit(type2.rtype, *(*unsafe.Pointer)(obj)),",
            "\tvar it hiter\n\tmapiterinit(type2.rtype, *(*unsafe.Pointer)(obj), &it)\n"
            "\treturn &UnsafeMapIterator{\n\t\thiter:      &it,",
        ),
    ],
    "github.com/go-openapi/validate/type.go": [_OPENAPI_ZERO_CHECK],
    # The copy that apiextensions-apiserver actually uses for custom objects.
    "k8s.io/kube-openapi/pkg/validation/validate/type.go": [_OPENAPI_ZERO_CHECK],
}


def patch_sources(tree: Path) -> bool:
    """Apply the fixes Go >= 1.18 needs to the vendored code; False if they were already applied."""
    changed = False
    for relative, edits in _PATCHES.items():
        path = tree / "vendor" / relative
        text = path.read_text()
        for old, new in edits:
            if new in text:
                continue
            if old not in text:
                raise BuildError(f"{path}: the expected vendored code was not found; cannot patch")
            text = text.replace(old, new)
            changed = True
        path.write_text(text)
    return changed


def build_binaries(say: Say, log: Path, layout: Layout, tree: Path) -> None:
    say(
        "building kube-apiserver, kube-controller-manager and kube-scheduler "
        f"(a cold build takes about 5 minutes on 2 cores; log: {log})"
    )
    env = host_environment(
        PATH=f"{GO_BIN}:{host_path()}", CGO_ENABLED="0", GOPROXY="off", GOFLAGS="", KUBE_VERBOSE="0"
    )
    what = " ".join(f"cmd/{name}" for name in CONTROL_PLANE_BINARIES)
    started = time.monotonic()
    run_step(["make", f"WHAT={what}"], log, cwd=tree, env=env)
    built = tree / "_output" / "local" / "bin" / "linux" / "amd64"
    layout.bin.mkdir(parents=True, exist_ok=True)
    for name in CONTROL_PLANE_BINARIES:
        shutil.copy2(built / name, layout.binary(name))
    # The unpacked tree and its build outputs take 2.3 GB; only the binaries are needed.
    shutil.rmtree(layout.source, ignore_errors=True)
    say(f"built in {time.monotonic() - started:.0f} s; cached in {layout.bin}")


def binaries_ready(layout: Layout) -> bool:
    return all(os.access(layout.binary(name), os.X_OK) for name in CONTROL_PLANE_BINARIES)


def prepare(layout: Layout, say: Say) -> None:
    """Everything the control plane needs, installed or built once; a no-op when cached."""
    log = layout.cache / "build.log"
    ensure_deb_src(say, log)
    ensure_packages(say, log)
    if binaries_ready(layout):
        return
    tree = ensure_source(say, log, layout)
    if patch_sources(tree):
        say("patched the vendored reflect2 and go-openapi for Go >= 1.18")
    build_binaries(say, log, layout, tree)


if __name__ == "__main__":
    prepare(Layout.default(), lambda line: print(line, file=sys.stderr, flush=True))
