"""The Argo CD health checks in docs/gitops/argocd/, run by a Lua 5.1 interpreter (Argo CD's is
gopher-lua, a Lua 5.1) against objects recorded from real runs on the local cluster
(`python -m e2e.record_health`), in Argo CD's own test layout (health_test.yaml beside health.lua)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lupa.lua51 as lua
import pytest
import yaml

ARGOCD = Path(__file__).resolve().parents[2] / "docs" / "gitops" / "argocd"
KINDS = ("RayCluster", "RayJob", "RayService")
# The states each check must tell apart, each from a real run.
RECORDED = {
    "RayCluster": {"ready", "scaling", "invalid", "suspended", "starting"},
    "RayJob": {"running", "complete", "failed", "suspended", "waiting", "invalid"},
    "RayService": {"starting", "ready", "upgrading", "failed", "invalid"},
}
STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}


def health(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """What Argo CD would show: the script run with the object as the global `obj`."""
    runtime = lua.LuaRuntime(unpack_returned_tuples=True)
    script = (ARGOCD / "ray.io" / kind / "health.lua").read_text()
    run = runtime.eval("function(obj, script) _G.obj = obj; return assert(loadstring(script))() end")
    result = run(runtime.table_from(obj, recursive=True), script)
    return dict(result)


def cases(kind: str) -> list[dict[str, Any]]:
    tests: list[dict[str, Any]] = yaml.safe_load((ARGOCD / "ray.io" / kind / "health_test.yaml").read_text())[
        "tests"
    ]
    return tests


@pytest.mark.parametrize("kind", KINDS)
def test_every_recorded_state_gets_its_health(kind: str) -> None:
    folder = ARGOCD / "ray.io" / kind
    for case in cases(kind):
        obj = yaml.safe_load((folder / case["inputPath"]).read_text())
        assert obj["kind"] == kind, case["inputPath"]
        got = health(kind, obj)
        want = case["healthStatus"]
        assert want["status"] in STATUSES
        assert (got.get("status"), got.get("message")) == (want["status"], want["message"]), case["inputPath"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_states_users_see_are_all_recorded_and_every_recording_is_checked(kind: str) -> None:
    folder = ARGOCD / "ray.io" / kind / "testdata"
    on_disk = {path.stem for path in folder.glob("*.yaml")}
    checked = {Path(case["inputPath"]).stem for case in cases(kind)}
    assert RECORDED[kind] <= on_disk, f"record them: python -m e2e.record_health {kind}"
    assert on_disk <= checked, f"recorded but not checked: {sorted(on_disk - checked)}"


def test_an_object_the_operator_has_not_seen_yet_is_progressing() -> None:
    for kind in KINDS:
        fresh = {
            "apiVersion": "ray.io/v1",
            "kind": kind,
            "metadata": {"name": "x", "generation": 1},
            "spec": {},
        }
        assert health(kind, fresh)["status"] == "Progressing", kind


def test_a_changed_spec_the_operator_has_not_seen_yet_is_progressing() -> None:
    for kind in ("RayCluster", "RayService"):
        obj = yaml.safe_load((ARGOCD / "ray.io" / kind / "testdata" / "ready.yaml").read_text())
        obj["metadata"]["generation"] = int(obj["status"]["observedGeneration"]) + 1
        assert health(kind, obj)["status"] == "Progressing", kind


def test_the_argocd_cm_snippet_carries_the_same_scripts() -> None:
    config = yaml.safe_load((ARGOCD / "argocd-cm.yaml").read_text())
    assert (config["kind"], config["metadata"]["name"]) == ("ConfigMap", "argocd-cm")
    for kind in KINDS:
        key = f"resource.customizations.health.ray.io_{kind}"
        assert config["data"][key] == (ARGOCD / "ray.io" / kind / "health.lua").read_text(), key
