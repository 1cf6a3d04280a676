"""KubeRay's metric names and labels from cached objects; the probe and metrics endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from pathlib import Path
from typing import Any

import aiohttp

from raykopf.k8s.store import LatestStore
from raykopf.runtime.serving import (
    OperatorMetrics,
    Readiness,
    health_routes,
    metrics_routes,
    serve,
    split_address,
)


def obj(name: str, rv: str, **extra: Any) -> dict[str, Any]:
    meta = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "resourceVersion": rv}
    meta.update(extra.pop("metadata", {}))
    return {"metadata": meta, **extra}


def stores() -> tuple[LatestStore, LatestStore, LatestStore]:
    clusters, jobs, services = LatestStore(), LatestStore(), LatestStore()
    clusters.put(
        obj(
            "ready",
            "1",
            metadata={
                "creationTimestamp": "2026-11-26T05:00:00Z",
                "labels": {"ray.io/originated-from-crd": "RayJob"},
            },
            status={
                "conditions": [
                    {
                        "type": "RayClusterProvisioned",
                        "status": "True",
                        "lastTransitionTime": "2026-11-26T05:00:42Z",
                    }
                ]
            },
        )
    )
    clusters.put(obj("young", "2", metadata={"creationTimestamp": "2026-11-26T05:01:00Z"}))
    clusters.put(obj("going", "3", metadata={"deletionTimestamp": "2026-11-26T05:02:00Z"}))
    jobs.put(
        obj(
            "job",
            "4",
            status={
                "jobDeploymentStatus": "Complete",
                "startTime": "2026-11-26T05:00:00Z",
                "endTime": "2026-11-26T05:00:35Z",
                "failed": 1,
            },
        )
    )
    services.put(obj("svc", "5", status={"conditions": [{"type": "Ready", "status": "True"}]}))
    return clusters, jobs, services


def test_kuberay_metrics_are_computed_from_the_cached_objects() -> None:
    metrics = OperatorMetrics()
    metrics.objects.watch(*stores())
    text = metrics.text().decode()
    expected = [
        'kuberay_cluster_info{name="ready",namespace="ns",owner_kind="RayJob",uid="uid-ready"} 1.0',
        'kuberay_cluster_info{name="young",namespace="ns",owner_kind="None",uid="uid-young"} 1.0',
        'kuberay_cluster_condition_provisioned{condition="true",name="ready",namespace="ns",uid="uid-ready"} 1.0',
        'kuberay_cluster_condition_provisioned{condition="false",name="young",namespace="ns",uid="uid-young"} 1.0',
        'kuberay_cluster_provisioned_duration_seconds{name="ready",namespace="ns",uid="uid-ready"} 42.0',
        'kuberay_job_info{name="job",namespace="ns",uid="uid-job"} 1.0',
        'kuberay_job_deployment_status{deployment_status="Complete",name="job",namespace="ns",uid="uid-job"} 1.0',
        'kuberay_job_execution_duration_seconds{job_deployment_status="Complete",name="job",namespace="ns",'
        'retry_count="1",uid="uid-job"} 35.0',
        'kuberay_service_info{name="svc",namespace="ns",uid="uid-svc"} 1.0',
        'kuberay_service_condition_ready{condition="true",name="svc",namespace="ns",uid="uid-svc"} 1.0',
        'kuberay_service_condition_upgrade_in_progress{condition="false",name="svc",namespace="ns",uid="uid-svc"} 1.0',
    ]
    lines = set(text.splitlines())
    for line in expected:
        assert line in lines, line
    assert "going" not in text  # a deleted object's series are gone with it
    assert 'name="young"' not in "".join(x for x in lines if "provisioned_duration" in x)


def test_reconciles_are_counted_per_kind_and_result() -> None:
    metrics = OperatorMetrics()

    async def requeue(_: Any) -> float | None:
        return 5.0

    async def fail(_: Any) -> float | None:
        raise RuntimeError("boom")

    async def main() -> None:
        await metrics.timed("RayJob", requeue)(("ns", "a"))
        with contextlib.suppress(RuntimeError):
            await metrics.timed("RayJob", fail)(("ns", "a"))

    asyncio.run(main())
    text = metrics.text().decode()
    assert 'raykopf_reconcile_total{kind="RayJob",result="requeue"} 1.0' in text
    assert 'raykopf_reconcile_total{kind="RayJob",result="error"} 1.0' in text
    assert 'raykopf_reconcile_duration_seconds_count{kind="RayJob"} 2.0' in text


def test_controller_runtime_series_as_kuberays_operator_exports_them() -> None:
    """controller-runtime v0.22's names, labels and results (internal/controller/metrics), controller
    named after the kind in lowercase (KubeRay's `raycluster`, `rayjob`, `rayservice`)."""
    metrics = OperatorMetrics()
    waiting = [("ns", "b"), ("ns", "c")]
    metrics.add_controller("RayJob", 10, lambda: len(waiting))
    before = metrics.text().decode()
    for result in ("error", "requeue_after", "requeue", "success"):  # initMetrics: every result at 0
        assert f'controller_runtime_reconcile_total{{controller="rayjob",result="{result}"}} 0.0' in before
    assert 'controller_runtime_max_concurrent_reconciles{controller="rayjob"} 10.0' in before
    assert 'workqueue_depth{controller="rayjob",name="rayjob"} 2.0' in before
    busy: list[str] = []

    async def requeue(_: Any) -> float | None:
        busy.append(metrics.text().decode())
        return 5.0

    async def done(_: Any) -> float | None:
        return None

    async def fail(_: Any) -> float | None:
        raise RuntimeError("boom")

    async def main() -> None:
        await metrics.timed("RayJob", requeue)(("ns", "a"))
        await metrics.timed("RayJob", done)(("ns", "a"))
        with contextlib.suppress(RuntimeError):
            await metrics.timed("RayJob", fail)(("ns", "a"))

    asyncio.run(main())
    waiting.clear()
    text = metrics.text().decode()
    assert 'controller_runtime_active_workers{controller="rayjob"} 1.0' in busy[0]
    assert 'controller_runtime_active_workers{controller="rayjob"} 0.0' in text
    assert 'controller_runtime_reconcile_total{controller="rayjob",result="requeue_after"} 1.0' in text
    assert 'controller_runtime_reconcile_total{controller="rayjob",result="success"} 1.0' in text
    assert 'controller_runtime_reconcile_total{controller="rayjob",result="error"} 1.0' in text
    assert 'controller_runtime_reconcile_errors_total{controller="rayjob"} 1.0' in text
    assert 'controller_runtime_reconcile_time_seconds_count{controller="rayjob"} 3.0' in text
    assert 'controller_runtime_reconcile_time_seconds_bucket{controller="rayjob",le="0.15"} 3.0' in text
    assert 'workqueue_depth{controller="rayjob",name="rayjob"} 0.0' in text


DASHBOARD = Path(__file__).resolve().parents[3] / "helm" / "raykopf" / "dashboards" / "raykopf-operator.json"
OWN_METRIC = re.compile(r"\b(?:kuberay|controller_runtime|workqueue|raykopf)_[a-z_]+\b")


def dashboard_metrics() -> set[str]:
    """Every operator metric the shipped dashboard's queries and variables name."""
    text = json.dumps(json.loads(DASHBOARD.read_text()))
    return set(OWN_METRIC.findall(text))


def test_every_metric_the_shipped_dashboard_queries_is_exported_after_a_reconcile() -> None:
    metrics = OperatorMetrics()
    metrics.objects.watch(*stores())
    for kind in ("RayCluster", "RayJob", "RayService"):
        metrics.add_controller(kind, 10, lambda: 0)

    async def done(_: Any) -> float | None:
        return None

    asyncio.run(metrics.timed("RayCluster", done)(("ns", "a")))
    metrics.count_request("POST", "pods", 201)
    exported = {
        line.split("{")[0].split(" ")[0] for line in metrics.text().decode().splitlines() if line[:1] != "#"
    }
    queried = dashboard_metrics()
    assert len(queried) >= 12, queried
    assert "controller_runtime_reconcile_time_seconds_bucket" in queried
    assert sorted(queried - exported) == []


def test_api_responses_are_counted_per_method_resource_and_code() -> None:
    metrics = OperatorMetrics()
    metrics.count_request("POST", "pods", 201)
    metrics.count_request("POST", "pods", 201)
    metrics.count_request("PATCH", "rayclusters/status", 409)
    text = metrics.text().decode()
    assert 'raykopf_api_requests_total{code="201",method="POST",resource="pods"} 2.0' in text
    assert 'raykopf_api_requests_total{code="409",method="PATCH",resource="rayclusters/status"} 1.0' in text


def test_addresses_are_go_style() -> None:
    assert split_address(":8080", 0) == ("0.0.0.0", 8080)
    assert split_address("127.0.0.1:9", 0) == ("127.0.0.1", 9)
    assert split_address("0", 8080) == ("", 0)


def test_readyz_fails_until_watching_and_metrics_are_served() -> None:
    readiness, metrics = Readiness(), OperatorMetrics()
    metrics.objects.watch(*stores())

    async def main() -> None:
        runner = await serve(health_routes(readiness) + metrics_routes(metrics), "127.0.0.1:0")
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as session:

            async def get(path: str) -> tuple[int, str]:
                async with session.get(f"http://127.0.0.1:{port}{path}") as response:
                    return response.status, await response.text()

            assert (await get("/healthz"))[0] == 200
            assert await get("/readyz") == (503, "starting")
            readiness.state = "standby"
            assert await get("/readyz") == (200, "standby")
            readiness.state = "watching"
            assert await get("/readyz") == (200, "watching")
            status, text = await get("/metrics")
            assert status == 200
            assert "kuberay_cluster_info" in text
            assert "process_resident_memory_bytes" in text
        await runner.cleanup()

    asyncio.run(main())
