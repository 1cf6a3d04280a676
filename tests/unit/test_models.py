"""The ray.io/v1 models: wire names, KubeRay's defaults, tolerance of unknown and deprecated fields."""

from __future__ import annotations

from typing import Any

from raykopf.api import RayCluster, RayJob, RayService


def cluster_spec() -> dict[str, Any]:
    return {
        "headGroupSpec": {"template": {"spec": {"containers": [{"name": "ray-head", "image": "ray"}]}}},
        "workerGroupSpecs": [
            {"groupName": "workers", "template": {"spec": {"containers": [{"name": "w", "image": "ray"}]}}}
        ],
    }


def test_worker_group_defaults_are_kuberays() -> None:
    cluster = RayCluster.model_validate({"metadata": {"name": "c"}, "spec": cluster_spec()})
    group = (cluster.spec.worker_group_specs or [])[0]
    assert (group.replicas, group.min_replicas, group.max_replicas, group.num_of_hosts) == (
        0,
        0,
        2**31 - 1,
        1,
    )
    assert group.priority == 0


def test_rayjob_defaults_are_kuberays() -> None:
    job = RayJob.model_validate({"metadata": {"name": "j"}, "spec": {"entrypoint": "python x.py"}})
    assert job.spec.submission_mode == "K8sJobMode"
    assert job.spec.backoff_limit == 0
    assert job.spec.ttl_seconds_after_finished == 0


def test_irregular_wire_names_are_kuberays() -> None:
    status = {
        "desiredCPU": "2",
        "desiredGPU": "0",
        "desiredTPU": "0",
        "head": {"podIP": "10.0.0.1", "serviceIP": "10.0.0.2"},
    }
    cluster = RayCluster.model_validate({"spec": cluster_spec(), "status": status})
    assert cluster.status is not None
    assert cluster.status.desired_cpu == "2"
    assert cluster.status.head is not None
    assert cluster.status.head.pod_ip == "10.0.0.1"
    job = RayJob.model_validate(
        {
            "spec": {"runtimeEnvYAML": "pip: []", "entrypointNumCpus": 1.5},
            "status": {"dashboardURL": "h:8265"},
        }
    )
    assert job.spec.runtime_env_yaml == "pip: []"
    assert job.status is not None
    assert job.status.dashboard_url == "h:8265"
    service = RayService.model_validate(
        {"spec": {"rayClusterConfig": cluster_spec(), "serveConfigV2": "a: 1"}}
    )
    assert service.spec.serve_config_v2 == "a: 1"
    assert (
        service.to_dict()["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0][
            "name"
        ]
        == "ray-head"
    )


def test_unknown_fields_are_kept_and_never_crash() -> None:
    manifest = {
        "metadata": {"name": "c", "ownerReferences": [{"kind": "X"}]},
        "spec": {**cluster_spec(), "someFutureField": {"nested": True}},
    }
    cluster = RayCluster.model_validate(manifest)
    assert cluster.to_dict() == manifest


def test_deprecated_rayservice_fields_are_accepted() -> None:
    service = RayService.model_validate(
        {
            "spec": {
                "rayClusterConfig": cluster_spec(),
                "serviceUnhealthySecondThreshold": 900,
                "deploymentUnhealthySecondThreshold": 300,
            }
        }
    )
    assert service.spec.service_unhealthy_second_threshold == 900
    assert service.spec.deployment_unhealthy_second_threshold == 300


def test_defaults_are_not_written_back_into_the_users_object() -> None:
    manifest = {"spec": cluster_spec()}
    assert RayCluster.model_validate(manifest).to_dict() == manifest
