"""Real user manifests: KubeRay v1.7.0's samples (../shared/compat, required) and the project's own
samples all validate with no problem and survive a parse/serialise round trip unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from raykopf.api import RayCluster, RayJob, RayService
from raykopf.api.base import without_nulls
from raykopf.validation import validate
from tests.compat import upstream

MODELS = {"RayCluster": RayCluster, "RayJob": RayJob, "RayService": RayService}
OWN_SAMPLES = list(upstream.manifests(upstream.ROOT / "manifests" / "samples"))
UPSTREAM_SAMPLES = upstream.samples()


def _id(sample: tuple[Path, dict[str, Any]]) -> str:
    path, doc = sample
    meta = doc.get("metadata", {})
    return f"{path.name}:{doc['kind']}/{meta.get('name') or meta.get('generateName')}"


def test_the_project_ships_a_sample_of_each_kind() -> None:
    assert {doc["kind"] for _, doc in OWN_SAMPLES} == set(MODELS)


def test_upstream_samples_cover_every_kind() -> None:
    upstream.require()
    assert len(UPSTREAM_SAMPLES) >= 60
    assert {doc["kind"] for _, doc in UPSTREAM_SAMPLES} == set(MODELS)


@pytest.mark.parametrize("sample", OWN_SAMPLES + UPSTREAM_SAMPLES, ids=_id)
def test_sample_validates_without_any_problem(sample: tuple[Path, dict[str, Any]]) -> None:
    _, doc = sample
    assert [str(p) for p in validate(doc)] == []


@pytest.mark.parametrize("sample", OWN_SAMPLES + UPSTREAM_SAMPLES, ids=_id)
def test_sample_round_trips_through_the_models_unchanged(sample: tuple[Path, dict[str, Any]]) -> None:
    """Unchanged but for null fields (a template's empty `metadata:`), which mean what Go makes of
    them, nothing; the builders never meet one."""
    _, doc = sample
    assert MODELS[doc["kind"]].model_validate(doc).to_dict() == without_nulls(doc)
