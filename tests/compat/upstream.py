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


def available() -> bool:
    return (UPSTREAM / "crds").is_dir()


@functools.cache
def upstream_crd(plural: str) -> dict[str, Any]:
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
