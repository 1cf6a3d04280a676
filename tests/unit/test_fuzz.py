"""Fuzzed specs go through validation and, when it finds no error, through the builders and planners
the operator runs on them. Nothing may raise: a manifest is either refused with field paths or built.

- KubeRay's samples and the project's, mutated: wrong types anywhere, `metadata: null`, huge and
  negative numbers, long and unicode names, shell words, broken or hostile YAML, deep nesting.
- Objects KubeRay's v1.7 CRD schema admits (what an apiserver with its CRDs stores): whole specs
  drawn from the schema, and samples with values, or fields they lack, drawn from it.

The example budget is fixed; the seed is random unless FUZZ_SEED is set, and a failure names it.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import secrets
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from raykopf.api import RayCluster, RayJob, RayService
from raykopf.builders.rayjob import build_submitter_job, http_submission
from raykopf.builders.service import build_head_service
from raykopf.config import OperatorConfig
from raykopf.reconcile.raycluster import Observed, plan_pods
from raykopf.reconcile.rayjob import World, plan_rayjob
from raykopf.reconcile.rayservice import ServiceWorld, plan_rayservice, serve_config
from raykopf.reconcile.status import next_status
from raykopf.validation import validate
from tests.compat import upstream
from tests.hostile import ALIAS_BOMB, nested
from tests.schema_strategy import at, values

SEED = int(os.environ.get("FUZZ_SEED") or secrets.randbelow(2**32))
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 150)  # per kind; CI runs the default
CONFIG = OperatorConfig()
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
DATE = "2026-01-01T00:00:00Z"


HOSTILE: list[Any] = [
    None,
    {},
    [],
    "",
    0,
    -1,
    2**31 - 1,
    2**63,
    -(2**63),
    1.5,
    1e308,
    True,
    "abc",
    "1e3",
    "ü" * 70,
    "x" * 300,
    "$(id)",
    "; rm -rf /",
    "'",
    '"',
    "\n",
    "../../api",
    "2024-01-01",
    "a: &a [1]\nb: *a",
    "x: .nan",
    "- a\n- b",
    "{",
    ALIAS_BOMB,
    {"a": [1, {"b": None}]},
    [{"name": "x"}],
    nested(150),
]

VALUES = st.one_of(
    st.sampled_from(HOSTILE),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.dictionaries(
        st.text(max_size=8), st.one_of(st.none(), st.integers(), st.text(max_size=8)), max_size=3
    ),
)

SEEDS: dict[str, list[dict[str, Any]]] = {"RayCluster": [], "RayJob": [], "RayService": []}
for _, document in [*upstream.manifests(upstream.ROOT / "manifests" / "samples"), *upstream.samples()]:
    if document.get("kind") in SEEDS:
        SEEDS[document["kind"]].append(document)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in the manifest a value sits (not deeper than 12: the fuzzer's own walk)."""
    found = [prefix] if prefix else []
    if len(prefix) < 12:
        if isinstance(node, dict):
            for key, value in node.items():
                found += _paths(value, (*prefix, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                found += _paths(value, (*prefix, index))
    return found


def _parent(manifest: Any, path: tuple[Any, ...]) -> Any:
    node = manifest
    for key in path[:-1]:
        node = node[key]
    return node


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    manifest = copy.deepcopy(draw(st.sampled_from(SEEDS[kind])))
    manifest.setdefault("metadata", {}).update(namespace="ns", uid="uid-1")
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(manifest)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _parent(manifest, path), path[-1]
        action = draw(st.sampled_from(["set", "delete", "add"]))
        value = copy.deepcopy(draw(VALUES))
        if action == "set":
            parent[key] = value
        elif action == "delete":
            del parent[key]
        elif isinstance(parent[key], dict):
            parent[key][draw(st.sampled_from(["x", "replicas", "name", "rayStartParams", "env"]))] = value
        elif isinstance(parent[key], list):
            parent[key].append(value)
    return manifest


PLURALS = {"RayCluster": "rayclusters", "RayJob": "rayjobs", "RayService": "rayservices"}


def _kuberay_schema(kind: str) -> dict[str, Any]:
    crd = upstream.upstream_crd(PLURALS[kind])
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


@st.composite
def schema_admitted(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """A whole spec drawn from KubeRay's schema, or a sample with 1-3 values (or fields it lacks)
    drawn from it."""
    schema = _kuberay_schema(kind)
    name = draw(st.sampled_from(["a", "x" * 40, "rayjob-with-a-rather-long-name-of-fifty-characters"]))
    if draw(st.booleans()):
        spec = draw(values(schema["properties"]["spec"]))
        meta = {"name": name, "namespace": "ns", "uid": "uid-1"}
        return {"apiVersion": "ray.io/v1", "kind": kind, "metadata": meta, "spec": spec}
    manifest = copy.deepcopy(draw(st.sampled_from(SEEDS[kind])))
    manifest.setdefault("metadata", {}).update(namespace="ns", uid="uid-1")
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(manifest["spec"], ("spec",)) if at(schema, p) is not None]
        path = draw(st.sampled_from(paths))
        node = _parent(manifest, path)[path[-1]]
        declared = at(schema, path) or {}
        # An earlier draw may have put a null or a scalar where the schema has an object.
        missing = sorted(set(declared.get("properties") or {}) - set(node)) if isinstance(node, dict) else []
        if missing and draw(st.booleans()):  # a field the sample lacks
            key = draw(st.sampled_from(missing))
            node[key] = draw(values(declared["properties"][key]))
        else:
            _parent(manifest, path)[path[-1]] = draw(values(declared))
    return manifest


def _outputs_are_json(*outputs: Any) -> None:
    json.dumps(outputs, default=str)  # what the operator would send: it must serialise


def _cluster_pipeline(raw: dict[str, Any]) -> None:
    problems = validate(raw)
    if any(p.is_error for p in problems):
        assert all(p.path is not None and p.message for p in problems)
        return
    cluster = RayCluster.model_validate(raw)
    plan = plan_pods(cluster, Observed(), CONFIG)
    status = next_status(cluster, Observed(), now=DATE, failure=None).to_dict()
    _outputs_are_json([c.body for c in plan.creates], build_head_service(cluster, CONFIG), status)


def _job_pipeline(raw: dict[str, Any]) -> None:
    if any(p.is_error for p in validate(raw)):
        return
    job = RayJob.model_validate(raw)
    suffixes = iter(["abcde", "fghij", "klmno"])
    step = plan_rayjob(job, raw, World(now=NOW, cluster=None), CONFIG, suffix=lambda: next(suffixes))
    for body in (create.body for create in step.creates):
        _outputs_are_json(body)
        if body.get("kind") == "RayCluster":
            cluster = {**body, "metadata": {**body["metadata"], "uid": "uid-2"}}
            _cluster_pipeline(cluster)
            if not any(p.is_error for p in validate(cluster)) and job.spec.entrypoint is not None:
                submitter = build_submitter_job(
                    job,
                    raw,
                    RayCluster.model_validate(cluster),
                    "svc.ns.svc.cluster.local:8265",
                    "id",
                    CONFIG,
                )
                _outputs_are_json(submitter, http_submission(job, "id"))


def _service_pipeline(raw: dict[str, Any]) -> None:
    if any(p.is_error for p in validate(raw)):
        return
    svc = RayService.model_validate(raw)
    _outputs_are_json(serve_config(svc))
    suffixes = iter(["abcde", "fghij", "klmno"])
    step = plan_rayservice(
        svc, raw, ServiceWorld(now=NOW, clusters={}), CONFIG, suffix=lambda: next(suffixes)
    )
    for body in (create.body for create in step.creates):
        _outputs_are_json(body)
        if body.get("kind") == "RayCluster":
            _cluster_pipeline({**body, "metadata": {**body["metadata"], "uid": "uid-2"}})


PIPELINES: dict[str, Callable[[dict[str, Any]], None]] = {
    "RayCluster": _cluster_pipeline,
    "RayJob": _job_pipeline,
    "RayService": _service_pipeline,
}


def _fuzz(kind: str, manifests: st.SearchStrategy[dict[str, Any]]) -> None:
    """Every drawn manifest through the kind's pipeline; a failure names the seed."""
    assert SEEDS[kind], f"no {kind} samples to start from"

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(manifests)
    def check(manifest: dict[str, Any]) -> None:
        PIPELINES[kind](manifest)

    try:
        check()
    except Exception as error:
        raise AssertionError(
            f"{kind}: reproduce with FUZZ_SEED={SEED}: {type(error).__name__}: {error}"
        ) from error


@pytest.mark.parametrize("kind", list(PIPELINES))
def test_no_mutated_spec_makes_validation_builders_or_planners_raise(kind: str) -> None:
    _fuzz(kind, mutated(kind))


@pytest.mark.parametrize("kind", list(PIPELINES))
def test_no_spec_kuberays_schema_admits_makes_validation_builders_or_planners_raise(kind: str) -> None:
    _fuzz(kind, schema_admitted(kind))
