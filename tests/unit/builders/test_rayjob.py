"""The submitter's command, token for token as KubeRay builds it (common.BuildJobSubmitCommand).

Expected values: KubeRay's TestBuildJobSubmitCommandWithK8sJobMode / WithSidecarMode (v1.6.1's
controllers/ray/common/job_test.go) with v1.7's dashboard wait loop in front in every mode (v1.7's
version of the same tests; v1.6.1 had the loop in SidecarMode only), on KubeRay's rayJobTemplate().
"""

from __future__ import annotations

import json

import pytest

from raykopf.api import RayCluster
from raykopf.api.rayjob import RayJob
from raykopf.builders.rayjob import (
    HEALTH_COMMAND,
    build_cluster,
    build_submitter_job,
    runtime_env_json,
    submit_tokens,
)
from raykopf.config import OperatorConfig

CLUSTER_SPEC = {
    "headGroupSpec": {
        "rayStartParams": {},
        "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.60.0"}]}},
    }
}


def template(**spec: object) -> RayJob:
    base = {
        "runtimeEnvYAML": "test: test",
        "metadata": {"testKey": "testValue"},
        "rayClusterSpec": {"rayVersion": "2.6.0", "headGroupSpec": {"rayStartParams": {}, "template": {}}},
        "entrypoint": "echo no quote 'single quote' \"double quote\"",
        "entrypointNumCpus": 1,
        "entrypointNumGpus": 0.5,
        "entrypointResources": '{"Custom_1": 1, "Custom_2": 5.5}',
    }
    return RayJob.model_validate({"metadata": {"name": "j", "namespace": "ns"}, "spec": {**base, **spec}})


def wait_loop(health_url: str) -> list[str]:
    return [
        "until",
        HEALTH_COMMAND.format(url=health_url),
        ">/dev/null",
        "2>&1",
        ";",
        "do",
        "echo",
        json.dumps("Waiting for Ray Dashboard GCS to become healthy at http://127.0.0.1:8265 ..."),
        ";",
        "sleep",
        "2",
        ";",
        "done",
        ";",
    ]


SUBMIT_OPTIONS = [
    "--runtime-env-json",
    json.dumps('{"test":"test"}'),
    "--metadata-json",
    json.dumps('{"testKey":"testValue"}'),
    "--submission-id",
    "testJobId",
    "--entrypoint-num-cpus",
    "1.000000",
    "--entrypoint-num-gpus",
    "0.500000",
    "--entrypoint-resources",
    json.dumps('{"Custom_1": 1, "Custom_2": 5.5}'),
    "--",
    "echo no quote 'single quote' \"double quote\"",
    ";",
]


def test_k8s_job_mode_checks_the_status_submits_without_waiting_and_follows_the_logs() -> None:
    expected = [
        *wait_loop("http://127.0.0.1:8265/api/gcs_healthz"),
        *["if", "!", "ray", "job", "status", "--address", "http://127.0.0.1:8265", "testJobId"],
        *[">/dev/null", "2>&1", ";", "then"],
        *["ray", "job", "submit", "--address", "http://127.0.0.1:8265", "--no-wait", *SUBMIT_OPTIONS],
        *["fi", ";", "ray", "job", "logs", "--address", "http://127.0.0.1:8265", "--follow", "testJobId"],
    ]
    assert submit_tokens(template(), "testJobId", "127.0.0.1:8265", wait_status=True) == expected


def test_sidecar_mode_probes_localhost_and_submits_once() -> None:
    expected = [
        *wait_loop("http://localhost:8265/api/gcs_healthz"),
        *["ray", "job", "submit", "--address", "http://127.0.0.1:8265", *SUBMIT_OPTIONS],
    ]
    assert submit_tokens(template(), "testJobId", "127.0.0.1:8265", wait_status=False) == expected


def test_runtime_env_yaml_becomes_json_as_sigs_k8s_io_yaml_writes_it() -> None:
    # KubeRay's TestBuildJobSubmitCommandWithK8sJobModeAndYAML compares the JSON as a map; Go's
    # json.Marshal writes a map with its keys sorted.
    job = template(
        runtimeEnvYAML='working_dir: "https://example.com/a.zip"\npip: ["python-multipart==0.0.6"]\n'
    )
    assert (
        runtime_env_json(job)
        == '{"pip":["python-multipart==0.0.6"],"working_dir":"https://example.com/a.zip"}'
    )


# KubeRay's configureSubmitterContainer: GetContainerCommand([]string{"e"}) in K8sJobMode and for the
# SidecarMode container, so `-ce`, or `-cel` under ENABLE_LOGIN_SHELL.
@pytest.mark.parametrize(("login_shell", "expected"), [(False, "-ce"), (True, "-cel")])
def test_the_submitter_shell_stops_at_the_first_failure(login_shell: bool, expected: str) -> None:
    config = OperatorConfig(enable_login_shell=login_shell)
    job = template(rayClusterSpec=CLUSTER_SPEC)
    raw = job.model_dump(by_alias=True, exclude_none=True)
    cluster = RayCluster.model_validate({"metadata": {"name": "j-abcde"}, "spec": CLUSTER_SPEC})
    submitter = build_submitter_job(
        job, raw, cluster, "j-head-svc.ns.svc.cluster.local:8265", "testJobId", config
    )
    assert submitter["spec"]["template"]["spec"]["containers"][0]["command"] == ["/bin/bash", expected, "--"]
    sidecar = template(rayClusterSpec=CLUSTER_SPEC, submissionMode="SidecarMode")
    built = build_cluster(
        sidecar, sidecar.model_dump(by_alias=True, exclude_none=True), "j-abcde", "testJobId", config
    )
    containers = built["spec"]["headGroupSpec"]["template"]["spec"]["containers"]
    assert containers[-1]["command"] == ["/bin/bash", expected, "--"]


def test_the_submitter_pod_has_no_kubernetes_credentials_unless_the_user_template_says() -> None:
    job = template(rayClusterSpec=CLUSTER_SPEC)
    raw = job.model_dump(by_alias=True, exclude_none=True)
    cluster = RayCluster.model_validate({"metadata": {"name": "j-abcde"}, "spec": CLUSTER_SPEC})
    built = build_submitter_job(
        job, raw, cluster, "j-head-svc.ns.svc.cluster.local:8265", "id", OperatorConfig()
    )
    assert built["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    own = {"spec": {"serviceAccountName": "submitter", "containers": [{"name": "s", "image": "ray"}]}}
    mine = template(rayClusterSpec=CLUSTER_SPEC, submitterPodTemplate=own)
    raw = mine.model_dump(by_alias=True, exclude_none=True)
    built = build_submitter_job(mine, raw, cluster, "a:8265", "id", OperatorConfig())
    assert "automountServiceAccountToken" not in built["spec"]["template"]["spec"]
