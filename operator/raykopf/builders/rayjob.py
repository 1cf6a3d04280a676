"""What a RayJob creates: its RayCluster, its own head Service and the submitter (a batch Job, or a
container in the head Pod) (≙ rayjob_controller.go constructRayClusterForRayJob, common/job.go)."""

from __future__ import annotations

import copy
import json
import shlex
from typing import Any

import yaml

from raykopf import constants as c
from raykopf.api import RayCluster
from raykopf.api.rayjob import RayJob
from raykopf.builders.labels import owned_by
from raykopf.builders.service import build_owner_head_service, dashboard_port
from raykopf.config import OperatorConfig

SUBMITTER_CONTAINER = "ray-job-submitter"
SUBMITTER_RESOURCES = {
    "requests": {"cpu": "500m", "memory": "200Mi"},
    "limits": {"cpu": "1", "memory": "1Gi"},
}
DEFAULT_SUBMITTER_BACKOFF_LIMIT = 2


def rayjob_labels(name: str) -> dict[str, str]:
    return {c.RAY_ORIGINATED_FROM_CR_NAME_LABEL: name, c.RAY_ORIGINATED_FROM_CRD_LABEL: "RayJob"}


def _owned(body: dict[str, Any], job: RayJob) -> dict[str, Any]:
    return owned_by(body, name=job.metadata.name or "", uid=job.metadata.uid, kind="RayJob")


def mode(job: RayJob) -> str:
    return job.spec.submission_mode or c.K8S_JOB_MODE


def runtime_env_json(job: RayJob) -> str | None:
    """`runtimeEnvYAML` as the JSON Ray expects (validation has already parsed it)."""
    if not job.spec.runtime_env_yaml:
        return None
    return json.dumps(yaml.safe_load(job.spec.runtime_env_yaml), separators=(",", ":"))


def build_cluster(job: RayJob, raw: dict[str, Any], name: str, job_id: str) -> dict[str, Any]:
    """The RayCluster `<rayjob>-<5 random>`: the user's `rayClusterSpec` as written, the RayJob's labels and
    annotations plus KubeRay's, and for SidecarMode the submitter container on a head that never restarts."""
    spec = copy.deepcopy(raw["spec"]["rayClusterSpec"])
    labels = {
        **(job.metadata.labels or {}),
        **rayjob_labels(job.metadata.name or ""),
        "ray.io/job-submission-mode": mode(job),
    }
    annotations = dict(job.metadata.annotations or {})
    if mode(job) == c.SIDECAR_MODE:
        template = spec["headGroupSpec"]["template"]
        template.setdefault("spec", {})["restartPolicy"] = "Never"
        head = template["spec"]["containers"][c.RAY_CONTAINER_INDEX]
        port = dashboard_port(RayCluster.model_validate({"metadata": {"name": name}, "spec": spec}))
        template["spec"]["containers"].append(
            submitter_container(job, job_id, head.get("image", ""), f"127.0.0.1:{port}", wait_status=False)
        )
        annotations["ray.io/disable-provisioned-head-restart"] = "true"
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": job.metadata.namespace,
        "labels": labels,
        "annotations": annotations,
    }
    return _owned({"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": metadata, "spec": spec}, job)


def build_job_head_service(job: RayJob, cluster: RayCluster, config: OperatorConfig) -> dict[str, Any]:
    """`<rayjob>-head-svc`, so the address stays the same across retries."""
    return build_owner_head_service(
        cluster, config, kind="RayJob", name=job.metadata.name or "", uid=job.metadata.uid
    )


def submit_command(job: RayJob, job_id: str, address: str, *, wait_status: bool) -> str:
    """KubeRay's submitter script: wait for the GCS through the dashboard, submit unless a job with this ID
    already exists (so a restarted submitter Pod never submits twice), then follow the driver's logs."""
    url = f"http://{address}"
    options = ["--no-wait"]
    runtime_env = runtime_env_json(job)
    if runtime_env:
        options += ["--runtime-env-json", shlex.quote(runtime_env)]
    if job.spec.metadata:
        options += ["--metadata-json", shlex.quote(json.dumps(job.spec.metadata, separators=(",", ":")))]
    options += ["--submission-id", shlex.quote(job_id)]
    if job.spec.entrypoint_num_cpus:
        options += ["--entrypoint-num-cpus", str(job.spec.entrypoint_num_cpus)]
    if job.spec.entrypoint_num_gpus:
        options += ["--entrypoint-num-gpus", str(job.spec.entrypoint_num_gpus)]
    if job.spec.entrypoint_resources:
        options += ["--entrypoint-resources", shlex.quote(job.spec.entrypoint_resources)]
    probe = (
        "import sys, urllib.request; "
        f"sys.exit(0 if b'success' in urllib.request.urlopen('{url}/api/gcs_healthz', timeout=5).read() else 1)"
    )
    submit = f"ray job submit --address {url} {' '.join(options)} -- {job.spec.entrypoint or ''}"
    if wait_status:
        submit = (
            f"if ! ray job status --address {url} {shlex.quote(job_id)} >/dev/null 2>&1; then {submit}; fi"
        )
    return "\n".join(
        [
            f"until python -c {shlex.quote(probe)} 2>/dev/null; do echo 'waiting for the Ray dashboard at {url}'; sleep 2; done",
            submit,
            f"ray job logs --address {url} --follow {shlex.quote(job_id)}",
        ]
    )


def _submitter_env(job_id: str, address: str) -> list[dict[str, Any]]:
    return [
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        {"name": "RAY_DASHBOARD_ADDRESS", "value": address},
        {"name": "RAY_JOB_SUBMISSION_ID", "value": job_id},
    ]


def _finish_submitter(
    container: dict[str, Any], job: RayJob, job_id: str, address: str, *, wait_status: bool
) -> None:
    names = {e.get("name") for e in container.get("env") or []}
    container["env"] = list(container.get("env") or []) + [
        e for e in _submitter_env(job_id, address) if e["name"] not in names
    ]
    if not container.get("command"):
        container["command"] = ["/bin/bash", "-ce", "--"]
        container["args"] = [submit_command(job, job_id, address, wait_status=wait_status)]


def submitter_container(
    job: RayJob, job_id: str, image: str, address: str, *, wait_status: bool
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": SUBMITTER_CONTAINER,
        "image": image,
        "resources": copy.deepcopy(SUBMITTER_RESOURCES),
    }
    _finish_submitter(container, job, job_id, address, wait_status=wait_status)
    return container


def build_submitter_job(
    job: RayJob, raw: dict[str, Any], cluster: RayCluster, address: str, job_id: str
) -> dict[str, Any]:
    """The batch Job `<rayjob>` (K8sJobMode): the user's `submitterPodTemplate` or one container on the
    head's image; KubeRay's command when the user gave none."""
    name = job.metadata.name or ""
    user_template = (raw["spec"].get("submitterPodTemplate") or None) and copy.deepcopy(
        raw["spec"]["submitterPodTemplate"]
    )
    head_image = (
        cluster.spec.head_group_spec.template.get("spec", {}).get("containers", [{}])[0].get("image", "")
    )
    if user_template:
        template = user_template
        template.setdefault("spec", {}).setdefault("restartPolicy", "Never")
        _finish_submitter(template["spec"]["containers"][0], job, job_id, address, wait_status=True)
    else:
        template = {
            "spec": {
                "restartPolicy": "Never",
                "containers": [submitter_container(job, job_id, head_image, address, wait_status=True)],
            }
        }
    labels = {**rayjob_labels(name), c.K8S_CREATED_BY_LABEL: c.COMPONENT_NAME}
    template.setdefault("metadata", {})["labels"] = {
        **(template.get("metadata", {}).get("labels") or {}),
        **labels,
    }
    config = job.spec.submitter_config
    backoff = (
        config.backoff_limit
        if config and config.backoff_limit is not None
        else DEFAULT_SUBMITTER_BACKOFF_LIMIT
    )
    body = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": job.metadata.namespace, "labels": labels},
        "spec": {"backoffLimit": backoff, "template": template},
    }
    return _owned(body, job)


def http_submission(job: RayJob, job_id: str) -> dict[str, Any]:
    """The body of `POST /api/jobs/` (HTTPMode): only the fields Ray's JobSubmitRequest accepts."""
    body: dict[str, Any] = {"entrypoint": job.spec.entrypoint or "", "submission_id": job_id}
    runtime_env = runtime_env_json(job)
    if runtime_env:
        body["runtime_env"] = json.loads(runtime_env)
    if job.spec.metadata:
        body["metadata"] = dict(job.spec.metadata)
    if job.spec.entrypoint_num_cpus:
        body["entrypoint_num_cpus"] = job.spec.entrypoint_num_cpus
    if job.spec.entrypoint_num_gpus:
        body["entrypoint_num_gpus"] = job.spec.entrypoint_num_gpus
    if job.spec.entrypoint_resources:
        body["entrypoint_resources"] = json.loads(job.spec.entrypoint_resources)
    return body
