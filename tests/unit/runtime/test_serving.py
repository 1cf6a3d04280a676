"""KubeRay's metric names and labels from cached objects; the probe and metrics endpoints."""

from __future__ import annotations

import asyncio
import contextlib
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
