"""Access to KubeRay v1.7.0's CRDs and samples in ../shared/compat (compatibility data, never copied)."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = Path(
    os.environ.get("RAYKOPF_UPSTREAM_COMPAT", ROOT.parent / "shared" / "compat" / "kuberay-v1.7.0")
)
KINDS = ("RayCluster", "RayJob", "RayService")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def require() -> Path:
    """The compatibility data's folder; its absence fails the test that needs it (never a skip)."""
    if not (UPSTREAM / "crds").is_dir() or not (UPSTREAM / "samples").is_dir():
        raise AssertionError(
            f"KubeRay v1.7.0 compatibility data not found at {UPSTREAM} (expected ../shared/compat beside "
            "the repository, or RAYKOPF_UPSTREAM_COMPAT)"
        )
    return UPSTREAM


def samples() -> list[tuple[Path, dict[str, Any]]]:
    """KubeRay's own sample manifests (empty, not an error, when the data is missing: the tests that
    use them also assert that it is there)."""
    return list(manifests(UPSTREAM / "samples")) if (UPSTREAM / "samples").is_dir() else []


@functools.cache
def upstream_crd(plural: str) -> dict[str, Any]:
    require()
    loaded: dict[str, Any] = yaml.load(
        (UPSTREAM / "crds" / f"ray.io_{plural}.yaml").read_text(), Loader=_LOADER
    )
    return loaded


def manifests(directory: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every ray.io RayCluster/RayJob/RayService document in the YAML files under `directory`."""
    for path in sorted(directory.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if (
                isinstance(doc, dict)
                and doc.get("kind") in KINDS
                and str(doc.get("apiVersion", "")).startswith("ray.io/")
            ):
                yield path, doc
