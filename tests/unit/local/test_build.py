"""The fixes Go >= 1.18 needs in the vendored code, applied to copies of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from raykopf.local.build import _HITER_V101, _OPENAPI_ZERO_CHECK, BuildError, patch_sources

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


TYPE_GO = f"""func (t *typeValidator) Validate(data interface{{}}) *Result {{
{_OPENAPI_ZERO_CHECK[0]}
\t\treturn nil
\t}}
}}
"""


def tree(tmp_path: Path) -> Path:
    folder = tmp_path / "vendor" / "github.com" / "modern-go" / "reflect2"
    folder.mkdir(parents=True)
    (folder / "unsafe_link.go").write_text(LINK)
    (folder / "unsafe_map.go").write_text(MAP)
    for copy in ("github.com/go-openapi/validate", "k8s.io/kube-openapi/pkg/validation/validate"):
        folder = tmp_path / "vendor" / copy
        folder.mkdir(parents=True)
        (folder / "type.go").write_text(TYPE_GO)
    return tmp_path


def test_patch_passes_a_caller_allocated_iterator_and_is_idempotent(tmp_path: Path) -> None:
    root = tree(tmp_path)
    assert patch_sources(root) is True
    folder = root / "vendor" / "github.com" / "modern-go" / "reflect2"
    link, iterate = (folder / "unsafe_link.go").read_text(), (folder / "unsafe_map.go").read_text()
    assert "func mapiterinit(rtype unsafe.Pointer, m unsafe.Pointer, it *hiter)" in link
    assert "checkBucket uintptr" in link
    assert "var it hiter\n\tmapiterinit(type2.rtype, *(*unsafe.Pointer)(obj), &it)" in iterate
    assert "hiter:      &it," in iterate
    for copy in ("github.com/go-openapi/validate", "k8s.io/kube-openapi/pkg/validation/validate"):
        validator = (root / "vendor" / copy / "type.go").read_text()
        assert "\tif data == nil {\n" in validator
        assert "reflect.Zero" not in validator
    assert patch_sources(root) is False


def test_unexpected_source_is_an_error(tmp_path: Path) -> None:
    root = tree(tmp_path)
    (root / "vendor/github.com/modern-go/reflect2/unsafe_map.go").write_text("something else")
    with pytest.raises(BuildError, match="cannot patch"):
        patch_sources(root)
