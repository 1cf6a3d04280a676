"""The reflect2 fix for Go >= 1.18, applied to a copy of the vendored v1.0.1 code."""

from __future__ import annotations

from pathlib import Path

import pytest

from raykopf.local.build import _HITER_V101, BuildError, patch_reflect2

LINK = f"""package reflect2

//go:linkname mapiterinit reflect.mapiterinit
func mapiterinit(rtype unsafe.Pointer, m unsafe.Pointer) *hiter

{_HITER_V101}
"""
MAP = """func (type2 *UnsafeMapType) UnsafeIterate(obj unsafe.Pointer) MapIterator {
\treturn &UnsafeMapIterator{
\t\thiter:      mapiterinit(type2.rtype, *(*unsafe.Pointer)(obj)),
\t\tpKeyRType:  type2.pKeyRType,
\t}
}
"""


def tree(tmp_path: Path) -> Path:
    folder = tmp_path / "vendor" / "github.com" / "modern-go" / "reflect2"
    folder.mkdir(parents=True)
    (folder / "unsafe_link.go").write_text(LINK)
    (folder / "unsafe_map.go").write_text(MAP)
    return tmp_path


def test_patch_passes_a_caller_allocated_iterator_and_is_idempotent(tmp_path: Path) -> None:
    root = tree(tmp_path)
    assert patch_reflect2(root) is True
    folder = root / "vendor" / "github.com" / "modern-go" / "reflect2"
    link, iterate = (folder / "unsafe_link.go").read_text(), (folder / "unsafe_map.go").read_text()
    assert "func mapiterinit(rtype unsafe.Pointer, m unsafe.Pointer, it *hiter)" in link
    assert "checkBucket uintptr" in link
    assert "var it hiter\n\tmapiterinit(type2.rtype, *(*unsafe.Pointer)(obj), &it)" in iterate
    assert "hiter:      &it," in iterate
    assert patch_reflect2(root) is False


def test_unexpected_source_is_an_error(tmp_path: Path) -> None:
    root = tree(tmp_path)
    (root / "vendor/github.com/modern-go/reflect2/unsafe_map.go").write_text("something else")
    with pytest.raises(BuildError, match="cannot patch"):
        patch_reflect2(root)
