"""Objects nested deeper than any real one are refused before anything recurses through them."""

from __future__ import annotations

import copy
import json
import sys
from typing import Any

from raykopf.runtime.run import allow_apiserver_depth
from raykopf.validation import validate
from raykopf.validation.structure import MAX_DEPTH
from tests.hostile import nested


def cluster(extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "deep"},
        "spec": {
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {"spec": {"containers": [{"name": "ray-head", "image": "ray", "extra": extra}]}},
            }
        },
    }


def test_an_object_as_deep_as_the_apiserver_accepts_is_refused_with_the_path_to_the_deep_spot() -> None:
    # 10,000 levels: what Go's encoding/json (the apiserver) accepts; Python's own limit is 1,000.
    problems = validate(cluster(nested(9_990)))
    assert len(problems) == 1, problems
    (problem,) = problems
    assert problem.is_error
    assert problem.path == "spec.headGroupSpec.template.spec.containers[0].extra.a.a.a.a.a"
    assert f"nested more than {MAX_DEPTH} objects and arrays deep" in problem.message


def test_the_operator_decodes_copies_and_encodes_what_the_apiserver_accepts_then_refuses_it() -> None:
    text = "[" * 9_990 + "]" * 9_990
    previous = sys.getrecursionlimit()
    try:
        allow_apiserver_depth()
        deep = json.loads(text)
        manifest = copy.deepcopy({**cluster(None), "spec": {"headGroupSpec": {"x": deep}}})
        assert json.dumps(manifest).endswith("]" * 9_990 + "}}}")
    finally:
        sys.setrecursionlimit(previous)
    problems = validate(manifest)
    assert [p.path for p in problems] == ["spec.headGroupSpec.x" + "[0]" * 9]  # the first 12 keys


def test_an_object_just_within_the_limit_is_judged_by_the_usual_rules() -> None:
    # The path above the extra field is 6 levels deep (spec, headGroupSpec, template, spec,
    # containers, [0]) plus the container itself: room for the rest up to the limit.
    problems = validate(cluster(nested(MAX_DEPTH - 7)))
    assert not any("objects and arrays deep" in p.message for p in problems), problems
