"""Golden output of the builders for the project's RayCluster samples: every change to a generated Pod
or Service shows up as a diff of `tests/golden/builders/*.yaml`.

Regenerate after an intended change: RAYKOPF_UPDATE_GOLDEN=1 pytest tests/unit/builders/test_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from raykopf.api import RayCluster
from raykopf.builders.pod import build_head_pod, build_worker_pod
from raykopf.builders.service import build_head_service
from raykopf.config import OperatorConfig
from raykopf.validation.core_types import check_core_type
from tests.compat import upstream

GOLDEN = upstream.ROOT / "tests" / "golden" / "builders"
SAMPLES = [
    (path, doc)
    for path, doc in upstream.manifests(upstream.ROOT / "manifests" / "samples")
    if doc["kind"] == "RayCluster"
]


def rendered(doc: dict[str, Any]) -> dict[str, Any]:
    manifest = {
        **doc,
        "metadata": {
            **doc["metadata"],
            "namespace": "default",
            "uid": "00000000-0000-0000-0000-000000000000",
        },
    }
    cluster = RayCluster.model_validate(manifest)
    config = OperatorConfig()
    return {
        "headPod": build_head_pod(cluster, config),
        "workerPods": [
            build_worker_pod(cluster, group, config) for group in cluster.spec.worker_group_specs or []
        ],
        "headService": build_head_service(cluster, config),
    }


@pytest.mark.parametrize(("path", "doc"), SAMPLES, ids=[p.name for p, _ in SAMPLES])
def test_builders_match_the_golden_files(path: Path, doc: dict[str, Any]) -> None:
    output = rendered(doc)
    for pod in [output["headPod"], *output["workerPods"]]:
        assert check_core_type("io.k8s.api.core.v1.Pod", pod, "pod") == []
    text = yaml.safe_dump(output, sort_keys=True, width=120)
    golden = GOLDEN / f"{doc['metadata']['name']}.yaml"
    if os.environ.get("RAYKOPF_UPDATE_GOLDEN") == "1":
        golden.write_text(text)
    assert golden.read_text() == text, (
        f"regenerate with RAYKOPF_UPDATE_GOLDEN=1 if the change is intended ({golden})"
    )


def test_every_raycluster_sample_has_a_golden_file() -> None:
    assert {f"{doc['metadata']['name']}.yaml" for _, doc in SAMPLES} == {
        p.name for p in GOLDEN.glob("*.yaml")
    }
