"""Reading ray.io objects out of multi-document YAML files and directories."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from raykopf import constants

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
YAML_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Document:
    """One YAML document: where it came from and what it holds (None when it failed to parse)."""

    path: Path
    index: int
    body: Any
    error: str | None = None

    @property
    def is_ray(self) -> bool:
        return isinstance(self.body, dict) and str(self.body.get("apiVersion", "")).startswith(
            f"{constants.GROUP}/"
        )

    @property
    def label(self) -> str:
        body = self.body if isinstance(self.body, dict) else {}
        meta = body.get("metadata") or {}
        name = meta.get("name") or meta.get("generateName") or f"<document {self.index}>"
        return f"{body.get('kind', '<no kind>')}/{name}"


def expand(paths: list[Path]) -> list[Path]:
    """Files named directly, plus every YAML file under each directory (sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in YAML_SUFFIXES and p.is_file())
        else:
            files.append(path)
    return files


def read_documents(path: Path) -> Iterator[Document]:
    try:
        text = path.read_text()
    except OSError as error:
        yield Document(path, 0, None, f"cannot read: {error.strerror or error}")
        return
    try:
        for index, body in enumerate(yaml.load_all(text, Loader=_LOADER)):
            if body is not None:
                yield Document(path, index, body)
    except yaml.YAMLError as error:
        yield Document(path, 0, None, f"invalid YAML: {' '.join(str(error).split())}")
