"""CRDs generated from the API models: `python -m raykopf.crdgen --write|--check`."""

from raykopf.crdgen.render import check, filename, render, render_yaml, write
from raykopf.crdgen.schema import lint_structural, structural

__all__ = ["check", "filename", "lint_structural", "render", "render_yaml", "structural", "write"]
