"""`runtimeEnvYAML` and `serveConfigV2` read as KubeRay reads them, whatever a tenant writes.

Expected values: sigs.k8s.io/yaml v1.6.0's TestYAMLToJSON (yaml_test.go) and go.yaml.in/yaml/v2
v2.4.3's TestUnmarshalErrors and TestLimits (decode_test.go, limit_test.go), the YAML libraries
KubeRay reads both fields with.
"""

from __future__ import annotations

import time

import pytest

from raykopf import goyaml
from raykopf.builders.gojson import go_json
from tests.hostile import ALIAS_BOMB


# TestYAMLToJSON: YAML in, the JSON sigs.k8s.io/yaml writes out.
@pytest.mark.parametrize(
    ("text", "json"),
    [
        ("t: a\n", '{"t":"a"}'),
        ("t: null\n", '{"t":null}'),
        ("t: True\n", '{"t":true}'),
        ("t: no\n", '{"t":false}'),
        ("t: 9007199254740993\n", '{"t":9007199254740993}'),
        ("t: 1000000000000000000000000000000000000\n", '{"t":1e+36}'),
        ("t: ", '{"t":null}'),
        ("True: a", '{"true":"a"}'),
        ("no: a", '{"false":"a"}'),
        ("1: a", '{"1":"a"}'),
        ("1.2: a", '{"1.2":"a"}'),
        ("1000000000000000000000000000000000000: a", '{"1e+36":"a"}'),
        ("1e+36: a", '{"1e+36":"a"}'),
        ('"1e+36": a\n', '{"1e+36":"a"}'),
        ("- t: a\n- t:\n    b: 1\n    c: 2\n", '[{"t":"a"},{"t":{"b":1,"c":2}}]'),
        ("[{t: a}, {t: {b: 1, c: 2}}]", '[{"t":"a"},{"t":{"b":1,"c":2}}]'),
        ("a: !!binary gIGC", '{"a":"\ufffd\ufffd\ufffd"}'),
        ("foo: bar\nfoo: baz\n", '{"foo":"baz"}'),
    ],
)
def test_yaml_becomes_the_json_sigs_k8s_io_yaml_writes(text: str, json: str) -> None:
    assert _json(goyaml.load(text)) == json


def _json(value: object) -> str:
    # go_json writes whole floats as integers (as Go does for a float64 like 2); 1e+36 is Go's form.
    return go_json(value).replace("1000000000000000000000000000000000000", "1e+36")


@pytest.mark.parametrize("text", ["~: a", "null: a"])
def test_a_null_key_is_refused(text: str) -> None:
    with pytest.raises(goyaml.YamlError, match="unsupported map key"):
        goyaml.load(text)


def test_timestamps_stay_the_text_written() -> None:
    # go-yaml v2 decodes a timestamp into interface{} as its string, "for backward compatibility".
    assert goyaml.load("when: 2001-12-14t21:59:43.10-05:00\nday: 2024-01-01\n") == {
        "when": "2001-12-14t21:59:43.10-05:00",
        "day": "2024-01-01",
    }


def test_what_json_cannot_carry_is_refused_with_a_reason() -> None:
    with pytest.raises(goyaml.YamlError, match="JSON has no NaN or infinity"):
        goyaml.load("x: .nan")
    with pytest.raises(goyaml.YamlError, match="JSON has no NaN or infinity"):
        goyaml.load("x: -.inf")
    with pytest.raises(goyaml.YamlError, match="unknown anchor 'b'"):
        goyaml.load("a: *b")
    with pytest.raises(goyaml.YamlError, match="could not find expected ':'"):
        goyaml.load("a:\n  1:\nb\n  2:")  # TestUnmarshalErrors


def test_an_alias_bomb_is_refused_at_once() -> None:
    started = time.perf_counter()
    with pytest.raises(goyaml.YamlError, match="document contains excessive aliasing"):
        goyaml.load(ALIAS_BOMB)
    assert time.perf_counter() - started < 1  # counted, never expanded (it would be 387 million nodes)


# TestLimits' "1000kb of maps with 100 aliases", scaled down to where go-yaml's rule (allowedAliasRatio:
# below 400,000 decoded nodes, refused once more than 99% came through aliases) draws the line: 1,000
# one-entry maps aliased 103 times are refused, 102 times not (go.yaml.in/yaml/v2 v2.4.3 says the same
# of these two documents).
def test_go_yamls_alias_limits() -> None:
    def aliased(times: int) -> str:
        return "{a: &a [{a}" + ",{a}" * 999 + "], b: &b [*a" + ",*a" * (times - 1) + "]}"

    with pytest.raises(goyaml.YamlError, match="document contains excessive aliasing"):
        goyaml.load(aliased(103))
    assert len(goyaml.load(aliased(102))["b"]) == 102
    assert len(goyaml.load("a: &a [{a}" + ",{a}" * (10 * 1024 // 4 - 1) + "]")["a"]) == 10 * 1024 // 4
    shared = goyaml.load("base: &base {image: ray, env: {A: '1'}}\nhead: *base\nworker: *base\n")
    assert shared["head"] == shared["worker"] == {"image": "ray", "env": {"A": "1"}}


def test_deep_nesting_is_refused_also_when_aliases_make_it() -> None:
    assert goyaml.load("[" * goyaml.MAX_DEPTH + "]" * goyaml.MAX_DEPTH) is not None
    with pytest.raises(goyaml.YamlError, match=r"nested more than|exceeded maximum nesting depth"):
        goyaml.load("[" * 10_000 + "]" * 10_000)  # libyaml's own limit (1,000) may come first
    half = goyaml.MAX_DEPTH // 2 + 1
    with pytest.raises(goyaml.YamlError, match="nested more than"):
        goyaml.load("a: &a " + "[" * half + "]" * half + "\nb: " + "[" * half + "*a" + "]" * half)
