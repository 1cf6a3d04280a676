"""What a RayJob creates: its RayCluster, its own head Service and the submitter (a batch Job, or a
container in the head Pod) (≙ rayjob_controller.go constructRayClusterForRayJob, common/job.go)."""

from __future__ import annotations

import copy
import json
from typing import Any

from raykopf import constants as c
from raykopf import goyaml
from raykopf.api import RayCluster
from raykopf.api.rayjob import RayJob
from raykopf.builders.gojson import go_json, go_quote
from raykopf.builders.labels import owned_by
from raykopf.builders.pod import bash_command
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
    """`runtimeEnvYAML` as JSON, as KubeRay converts it (sigs.k8s.io/yaml; validation has parsed it)."""
    if not job.spec.runtime_env_yaml:
        return None
    return go_json(goyaml.load(job.spec.runtime_env_yaml))


def build_cluster(
    job: RayJob, raw: dict[str, Any], name: str, job_id: str, config: OperatorConfig
) -> dict[str, Any]:
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
            submitter_container(
                job, job_id, head.get("image", ""), f"127.0.0.1:{port}", config, wait_status=False
            )
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


# KubeRay's Python probe of the dashboard's GCS health (utils.BasePythonHealthCommand, which v1.7
# gives the whole URL) and its timeout (10 s).
HEALTH_COMMAND = (
    "python -c \"import urllib.request; r=urllib.request.urlopen('{url}', timeout=10); "
    "exit(0 if b'success' in r.read() else 1)\""
)


def submit_tokens(job: RayJob, job_id: str, address: str, *, wait_status: bool) -> list[str]:
    """≙ common.BuildJobSubmitCommand: wait until the dashboard's GCS is healthy, submit unless a job
    with this ID exists already (K8sJobMode: a restarted submitter Pod never submits twice), then
    follow the driver's logs. `address` is `host:port`; in SidecarMode the probe goes to localhost."""
    url = f"http://{address}"
    health = (
        f"{url}/api/gcs_healthz"
        if wait_status
        else f"http://localhost:{address.rsplit(':', 1)[-1]}/api/gcs_healthz"
    )
    waiting = go_quote(f"Waiting for Ray Dashboard GCS to become healthy at {url} ...")
    tokens = ["until", HEALTH_COMMAND.format(url=health), ">/dev/null", "2>&1", ";"]
    tokens += ["do", "echo", waiting, ";", "sleep", "2", ";", "done", ";"]
    if wait_status:
        tokens += [
            "if",
            "!",
            "ray",
            "job",
            "status",
            "--address",
            url,
            job_id,
            ">/dev/null",
            "2>&1",
            ";",
            "then",
        ]
    tokens += ["ray", "job", "submit", "--address", url]
    if wait_status:
        tokens.append("--no-wait")
    runtime_env = runtime_env_json(job)
    if runtime_env:
        tokens += ["--runtime-env-json", go_quote(runtime_env)]
    if job.spec.metadata:
        tokens += ["--metadata-json", go_quote(go_json(job.spec.metadata))]
    if job_id:
        tokens += ["--submission-id", job_id]
    if job.spec.entrypoint_num_cpus and job.spec.entrypoint_num_cpus > 0:
        tokens += ["--entrypoint-num-cpus", f"{job.spec.entrypoint_num_cpus:f}"]
    if job.spec.entrypoint_num_gpus and job.spec.entrypoint_num_gpus > 0:
        tokens += ["--entrypoint-num-gpus", f"{job.spec.entrypoint_num_gpus:f}"]
    if job.spec.entrypoint_resources:
        tokens += ["--entrypoint-resources", go_quote(job.spec.entrypoint_resources)]
    tokens += ["--", (job.spec.entrypoint or "").strip(), ";"]
    if wait_status:
        tokens += ["fi", ";", "ray", "job", "logs", "--address", url, "--follow", job_id]
    return tokens


def submit_command(job: RayJob, job_id: str, address: str, *, wait_status: bool) -> str:
    """The submitter's shell script: KubeRay's tokens joined by spaces (its K8sJobMode Job args)."""
    return " ".join(submit_tokens(job, job_id, address, wait_status=wait_status))


def _submitter_env(job_id: str, address: str) -> list[dict[str, Any]]:
    return [
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        {"name": "RAY_DASHBOARD_ADDRESS", "value": address},
        {"name": "RAY_JOB_SUBMISSION_ID", "value": job_id},
    ]


def _finish_submitter(
    container: dict[str, Any],
    job: RayJob,
    job_id: str,
    address: str,
    config: OperatorConfig,
    *,
    wait_status: bool,
) -> None:
    names = {e.get("name") for e in container.get("env") or []}
    container["env"] = list(container.get("env") or []) + [
        e for e in _submitter_env(job_id, address) if e["name"] not in names
    ]
    if not container.get("command"):
        container["command"] = bash_command(config, "e")
        container["args"] = [submit_command(job, job_id, address, wait_status=wait_status)]


def submitter_container(
    job: RayJob, job_id: str, image: str, address: str, config: OperatorConfig, *, wait_status: bool
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": SUBMITTER_CONTAINER,
        "image": image,
        "resources": copy.deepcopy(SUBMITTER_RESOURCES),
    }
    _finish_submitter(container, job, job_id, address, config, wait_status=wait_status)
    return container


def build_submitter_job(
    job: RayJob, raw: dict[str, Any], cluster: RayCluster, address: str, job_id: str, config: OperatorConfig
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
        _finish_submitter(template["spec"]["containers"][0], job, job_id, address, config, wait_status=True)
    else:
        template = {
            "spec": {
                "restartPolicy": "Never",
                # It talks to the Ray dashboard only: no Kubernetes credentials in it (KubeRay's
                # submitter gets the namespace's default ServiceAccount token).
                "automountServiceAccountToken": False,
                "containers": [
                    submitter_container(job, job_id, head_image, address, config, wait_status=True)
                ],
            }
        }
    # The Job is labelled; its Pod template is left as given (KubeRay adds no labels there).
    labels = {**rayjob_labels(name), c.K8S_CREATED_BY_LABEL: c.COMPONENT_NAME}
    submitter = job.spec.submitter_config
    backoff = (
        submitter.backoff_limit
        if submitter and submitter.backoff_limit is not None
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
