"""The Helm chart: lint-clean, RBAC defined once and covering what the operator does, values as
kuberay-operator's, and manifests/install/ rendered from it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from raykopf.k8s.objects import _COLLECTIONS
from raykopf_local.paths import Layout
from raykopf_local.tools import OPERATOR_MANIFEST, ensure_helm, operator_manifest, render_chart

CHART = Path(__file__).resolve().parents[2] / "helm" / "raykopf"


@pytest.fixture(scope="module")
def helm() -> Path:
    return ensure_helm(Layout.default(), lambda line: None)


def objects(helm: Path, *values: str, namespace: str = "raykopf-system") -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(render_chart(helm, CHART, namespace=namespace, values=values)) if d]


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def grants(rules: list[dict[str, Any]], group: str, resource: str, verb: str) -> bool:
    return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] for r in rules)


def test_lint_is_clean(helm: Path) -> None:
    result = subprocess.run([str(helm), "lint", "--strict", str(CHART)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_plain_manifests_are_the_chart_rendered(helm: Path, repo_root: Path) -> None:
    assert (repo_root / OPERATOR_MANIFEST).read_text() == operator_manifest(helm, repo_root), "make manifests"


def test_default_install_is_cluster_wide_with_kuberays_flags_and_a_hardened_pod(helm: Path) -> None:
    docs = objects(helm)
    (deployment,) = find(docs, "Deployment", "raykopf-operator")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "localhost/raykopf/operator:0.1.0"
    assert container["command"] == ["raykopf"]
    assert container["args"] == [
        "run",
        "--enable-leader-election=true",
        "--leader-election-namespace=raykopf-system",
        "--reconcile-concurrency=10",
        "--max-pods-per-cluster=10000",
        "--enable-metrics=true",
        "--metrics-addr=:8080",
        "--health-probe-bind-address=:8082",
        "--qps=100",
        "--burst=200",
        "--log-stdout-encoder=json",
        "--feature-gates=RayClusterStatusConditions=true,RayJobDeletionPolicy=true",
        "--webhook-addr=:9443",
        "--webhook-cert-secret=raykopf-operator-webhook-cert",
        "--webhook-configuration=raykopf-operator",
        "--webhook-service=raykopf-operator-webhook",
    ]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http-health"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http-health"}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"]
    assert security["runAsNonRoot"]
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["serviceAccountName"] == "raykopf-operator"
    (service,) = find(docs, "Service", "raykopf-operator")
    assert service["spec"]["ports"][0]["port"] == 8080
    assert find(docs, "ServiceMonitor") == []
    assert find(docs, "ClusterRoleBinding", "raykopf-operator")[0]["subjects"] == [
        {"kind": "ServiceAccount", "name": "raykopf-operator", "namespace": "raykopf-system"}
    ]


def test_the_cluster_role_covers_every_kind_the_operator_writes_and_no_more(helm: Path) -> None:
    (role,) = find(objects(helm), "ClusterRole", "raykopf-operator")
    rules = role["rules"]
    for kind, path in _COLLECTIONS.items():
        parts = path.split("/")
        group = "" if parts[1] == "api" else parts[2]
        resource = parts[-1]
        if kind == "Event":
            group = "events.k8s.io"  # the recorder writes events.k8s.io/v1 Events
        assert grants(rules, group, resource, "create"), kind
    for resource in ("rayclusters/status", "rayjobs/status", "rayservices/status"):
        assert grants(rules, "ray.io", resource, "patch")
    for resource in ("pods", "services", "rayclusters", "rayjobs", "rayservices", "jobs"):
        group = {"rayclusters": "ray.io", "rayjobs": "ray.io", "rayservices": "ray.io", "jobs": "batch"}
        assert grants(rules, group.get(resource, ""), resource, "watch"), resource
    # Least privilege: no wildcard; Secrets only read and created (the auth token Secret, as
    # KubeRay); nothing on ConfigMaps, Nodes or Namespaces.
    assert not any("*" in r["verbs"] or "*" in r["resources"] for r in rules)
    named = {res for r in rules for res in r["resources"]}
    assert not named & {"configmaps", "nodes", "namespaces"}
    # Leases: only listed (other operators' ray-operator-leader); its own is in a namespaced Role.
    assert {verb for r in rules if "leases" in r["resources"] for verb in r["verbs"]} == {"list"}
    assert {verb for r in rules if "secrets" in r["resources"] for verb in r["verbs"]} == {"get", "create"}


def test_the_proxy_subresources_are_granted_only_to_an_operator_that_uses_them(helm: Path) -> None:
    """pods/proxy and services/proxy reach into every Pod and Service: only with useKubernetesProxy."""
    (direct,) = find(objects(helm), "ClusterRole", "raykopf-operator")
    assert not any(
        "pods/proxy" in r["resources"] or "services/proxy" in r["resources"] for r in direct["rules"]
    )
    proxied_docs = objects(helm, "useKubernetesProxy=true")
    (proxied,) = find(proxied_docs, "ClusterRole", "raykopf-operator")
    assert grants(proxied["rules"], "", "services/proxy", "get")
    assert grants(proxied["rules"], "", "pods/proxy", "get")
    (deployment,) = find(proxied_docs, "Deployment", "raykopf-operator")
    assert "--use-kubernetes-proxy" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]


def test_the_lease_is_granted_only_in_the_release_namespace(helm: Path) -> None:
    docs = objects(helm, namespace="ops")
    (role,) = find(docs, "Role", "raykopf-operator-leader-election")
    assert role["metadata"]["namespace"] == "ops"
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]}
    ]
    assert (
        find(objects(helm, "leaderElectionEnabled=false"), "Role", "raykopf-operator-leader-election") == []
    )


def test_single_namespace_install_grants_nothing_outside_the_watched_namespaces(helm: Path) -> None:
    docs = objects(helm, "singleNamespaceInstall=true", "watchNamespace={a,b}")
    # Cluster-wide, only the webhook's own (cluster-scoped) configuration, by name.
    (cluster_role,) = find(docs, "ClusterRole")
    assert [rule["resourceNames"] for rule in cluster_role["rules"]] == [["raykopf-operator"]]
    assert [b["roleRef"]["name"] for b in find(docs, "ClusterRoleBinding")] == ["raykopf-operator-webhook"]
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in find(docs, "Role")}
    assert roles == {
        ("a", "raykopf-operator"),
        ("b", "raykopf-operator"),
        ("raykopf-system", "raykopf-operator-leader-election"),
        ("raykopf-system", "raykopf-operator-webhook"),
    }
    # The webhook checks only the namespaces this operator manages.
    (configuration,) = find(docs, "ValidatingWebhookConfiguration")
    for hook in configuration["webhooks"]:
        assert hook["namespaceSelector"] == {
            "matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["a", "b"]}
            ]
        }
    bindings = {r["metadata"]["namespace"] for r in find(docs, "RoleBinding")}
    assert bindings == {"a", "b", "raykopf-system"}
    (deployment,) = find(docs, "Deployment")
    assert "--watch-namespace=a,b" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]


def test_single_namespace_install_without_a_list_watches_the_release_namespace(helm: Path) -> None:
    docs = objects(helm, "singleNamespaceInstall=true", namespace="ops")
    assert {r["metadata"]["namespace"] for r in find(docs, "Role", "raykopf-operator")} == {"ops"}
    (deployment,) = find(docs, "Deployment")
    assert "--watch-namespace=ops" in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    docs = objects(helm, "singleNamespaceInstall=true", "crNamespacedRbacEnable=false", namespace="ops")
    assert find(docs, "Role", "raykopf-operator") == []


def test_rbac_off_and_service_monitor_on(helm: Path) -> None:
    docs = objects(helm, "rbacEnable=false", "metrics.serviceMonitor.enabled=true")
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")]
    (monitor,) = find(docs, "ServiceMonitor")
    # KubeRay's chart: the endpoint by target port `http`, extra labels from additionalLabels.
    assert monitor["spec"]["endpoints"][0]["targetPort"] == "http"


def test_a_network_policy_lets_only_prometheus_in_and_only_on_the_metrics_port(helm: Path) -> None:
    (policy,) = find(objects(helm), "NetworkPolicy", "raykopf-operator")
    (deployment,) = find(objects(helm), "Deployment", "raykopf-operator")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["ingress"] == [
        {"ports": [{"port": "http", "protocol": "TCP"}], "from": [{"namespaceSelector": {}}]},
        {"ports": [{"port": "webhook", "protocol": "TCP"}]},  # the apiserver, from wherever it runs
    ]
    ports = {p["name"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert "http" in ports
    (closed,) = find(objects(helm, "metrics.enabled=false", "webhook.enabled=false"), "NetworkPolicy")
    assert closed["spec"]["ingress"] == []  # nothing may come in at all
    assert find(objects(helm, "networkPolicy.enabled=false"), "NetworkPolicy") == []


def test_configuration_enabled_starts_the_operator_with_a_config_file_it_accepts(
    helm: Path, tmp_path: Path
) -> None:
    from raykopf.cli import build_parser, settle_flags

    docs = objects(
        helm,
        "configuration.enabled=true",
        "configuration.defaultPodLabels.team=ml",
        "configuration.headSidecarContainers[0].name=fluentbit",
        "configuration.headSidecarContainers[0].image=fluent/fluent-bit:1.9.6",
        "watchNamespace={a,b}",
        "reconcileConcurrency=3",
        namespace="ops",
    )
    (config_map,) = find(docs, "ConfigMap", "raykopf-operator-config")
    (deployment,) = find(docs, "Deployment", "raykopf-operator")
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["args"][:2] == ["run", "--config=/etc/raykopf/config.yaml"]
    assert not any(
        a.startswith(("--watch-namespace", "--qps", "--reconcile-concurrency")) for a in container["args"]
    )
    assert {"name": "config", "mountPath": "/etc/raykopf", "readOnly": True} in container["volumeMounts"]
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "config")
    assert volume["configMap"]["name"] == "raykopf-operator-config"
    assert "checksum/config" in pod["metadata"]["annotations"]
    # The operator reads the rendered file as it would in the Pod: no error, no warning, same settings.
    path = tmp_path / "config.yaml"
    path.write_text(config_map["data"]["config.yaml"])
    args = build_parser().parse_args(["run", f"--config={path}", *container["args"][2:]])
    document, warnings = settle_flags(args)
    assert warnings == []
    assert (args.watch_namespace, args.reconcile_concurrency, args.leader_election_namespace) == (
        "a,b",
        3,
        "ops",
    )
    assert args.enable_metrics is True
    assert args.enable_leader_election is True
    assert document is not None
    assert document["defaultPodLabels"] == {"team": "ml"}
    assert document["headSidecarContainers"] == [{"name": "fluentbit", "image": "fluent/fluent-bit:1.9.6"}]
    assert find(objects(helm), "ConfigMap") == []


@pytest.mark.parametrize("value", ["batchScheduler.enabled=true", "batchScheduler.name=volcano"])
def test_a_batch_scheduler_is_refused_by_the_chart_not_ignored(helm: Path, value: str) -> None:
    result = subprocess.run(
        [str(helm), "template", "raykopf", str(CHART), "--set", value], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "batch scheduler integration is not implemented by raykopf" in result.stderr


def test_the_grafana_dashboard_ships_as_a_configmap_for_the_sidecar(helm: Path) -> None:
    assert find(objects(helm), "ConfigMap") == []
    (dashboard,) = find(objects(helm, "grafanaDashboard.enabled=true", namespace="ops"), "ConfigMap")
    assert dashboard["metadata"]["name"] == "raykopf-operator-dashboard"
    assert dashboard["metadata"]["namespace"] == "ops"
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = (CHART / "dashboards" / "raykopf-operator.json").read_text()
    assert json.loads(dashboard["data"]["raykopf-operator.json"]) == json.loads(shipped)


# The kuberay-operator chart's values (v1.7 line, helm-chart/kuberay-operator/values.yaml) with their
# defaults, as a user's KubeRay values file carries them.
KUBERAY_CHART_VALUES = """
nameOverride: kuberay-operator
fullnameOverride: kuberay-operator
componentOverride: kuberay-operator
replicas: 1
image: {repository: quay.io/kuberay/operator, tag: nightly, pullPolicy: IfNotPresent}
imagePullSecrets: []
nodeSelector: {}
priorityClassName: ""
labels: {}
annotations: {}
affinity: {}
tolerations: []
serviceAccount: {create: true, name: kuberay-operator}
logging: {stdoutEncoder: json, fileEncoder: json, baseDir: "", fileName: "", sizeLimit: ""}
batchScheduler: {enabled: false, name: ""}
configuration:
  enabled: false
  defaultContainerEnvs: []
  defaultPodAnnotations: {}
  defaultPodLabels: {}
  headSidecarContainers: []
  workerSidecarContainers: []
featureGates:
- {name: RayClusterStatusConditions, enabled: true}
- {name: RayJobDeletionPolicy, enabled: true}
- {name: RayMultiHostIndexing, enabled: true}
- {name: RayServiceIncrementalUpgrade, enabled: true}
- {name: RayCronJob, enabled: false}
- {name: RayClusterMTLS, enabled: false}
- {name: RayClusterNetworkPolicy, enabled: false}
- {name: RayClusterHistoryServer, enabled: false}
metrics:
  enabled: true
  serviceMonitor: {enabled: false, interval: 30s, honorLabels: true, additionalLabels: {}, namespace: ""}
operatorCommand: /manager
useKubernetesProxy: false
leaderElectionEnabled: true
reconcileConcurrency: 1
kubeClient: {qps: 100.0, burst: 200}
rbacEnable: true
crNamespacedRbacEnable: true
singleNamespaceInstall: false
watchNamespace: []
env:
resources: {limits: {cpu: 100m, memory: 512Mi}}
livenessProbe: {initialDelaySeconds: 10, periodSeconds: 5, failureThreshold: 5}
readinessProbe: {initialDelaySeconds: 10, periodSeconds: 5, failureThreshold: 5}
hostUsers:
podSecurityContext: {}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities: {drop: [ALL]}
  runAsNonRoot: true
  seccompProfile: {type: RuntimeDefault}
service: {type: ClusterIP, port: 8080}
"""


def render_with(helm: Path, values: Path, *sets: str) -> subprocess.CompletedProcess[str]:
    argv = [str(helm), "template", "raykopf", str(CHART), "-n", "ray-system", "-f", str(values)]
    for value in sets:
        argv += ["--set", value]
    return subprocess.run([*argv, "--kube-version", "1.36.0"], capture_output=True, text=True)


def test_a_kuberay_values_file_installs_raykopf_with_every_key_honoured(helm: Path, tmp_path: Path) -> None:
    values = tmp_path / "kuberay-values.yaml"
    values.write_text(KUBERAY_CHART_VALUES)
    sets = (
        "annotations.team=ml",
        "metrics.serviceMonitor.enabled=true",
        "metrics.serviceMonitor.additionalLabels.release=prometheus",
        "logging.baseDir=/var/log/kuberay",
        "logging.fileName=operator.log",
        "logging.fileEncoder=console",
        "logging.sizeLimit=1Gi",
        "hostUsers=false",
        "service.type=NodePort",
        "service.port=9090",
        "image.repository=registry.example/raykopf/operator",
        "image.tag=0.1.0",
    )
    rendered = render_with(helm, values, *sets)
    assert rendered.returncode == 0, rendered.stderr
    docs = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    (deployment,) = find(docs, "Deployment", "kuberay-operator")
    template = deployment["spec"]["template"]
    (container,) = template["spec"]["containers"]
    assert template["metadata"]["annotations"] == {"team": "ml"}  # on the Pod, as KubeRay's chart
    assert "annotations" not in deployment["metadata"]
    assert template["spec"]["hostUsers"] is False
    assert container["command"] == ["raykopf"]  # operatorCommand /manager is KubeRay's binary
    assert "--reconcile-concurrency=1" in container["args"]
    assert "--log-file-path=/var/log/kuberay/operator.log" in container["args"]
    assert "--log-file-encoder=console" in container["args"]
    assert {"name": "logs", "mountPath": "/var/log/kuberay"} in container["volumeMounts"]
    assert {"name": "logs", "emptyDir": {"sizeLimit": "1Gi"}} in template["spec"]["volumes"]
    assert {"name": "http", "containerPort": 8080, "protocol": "TCP"} in container["ports"]
    (service,) = find(docs, "Service", "kuberay-operator")
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 9090, "targetPort": "http", "protocol": "TCP"}
    ]
    (monitor,) = find(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert container["image"] == "registry.example/raykopf/operator:0.1.0"
    # The defaults alone render too: a KubeRay values file is a drop-in.
    assert render_with(helm, values).returncode == 0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("autoscaler.enabled=true", "additional properties 'autoscaler' not allowed"),
        ("webhook.nonsense=1", "at '/webhook': additional properties 'nonsense'"),
        ("webhook.failurePolicy=Sometimes", "at '/webhook/failurePolicy'"),
        ("webhook.timeoutSeconds=60", "at '/webhook/timeoutSeconds'"),
        (
            "metrics.serviceMonitor.selector.a=b",
            "at '/metrics/serviceMonitor': additional properties 'selector'",
        ),
        ("logging.stdoutEncoder=text", "at '/logging/stdoutEncoder'"),
        ("reconcileConcurrency=0", "at '/reconcileConcurrency'"),
    ],
)
def test_a_key_the_chart_does_not_implement_is_refused_by_name(helm: Path, value: str, message: str) -> None:
    result = subprocess.run(
        [str(helm), "template", "raykopf", str(CHART), "--set", value], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert message in result.stderr, result.stderr


# KubeRay's webhook (ray-operator/config/webhook/manifests.yaml, v1.6.1; paths also in the reference,
# section 3.3): one webhook per kind, these names and paths, CREATE and UPDATE, v1.
KUBERAY_WEBHOOKS = {
    "vraycluster.kb.io": ("/validate-ray-io-v1-raycluster", "rayclusters"),
    "vrayjob.kb.io": ("/validate-ray-io-v1-rayjob", "rayjobs"),
    "vrayservice.kb.io": ("/validate-ray-io-v1-rayservice", "rayservices"),
}


def test_the_webhook_is_on_by_default_with_kuberays_names_and_paths_and_its_own_certificate(
    helm: Path,
) -> None:
    docs = objects(helm)
    (configuration,) = find(docs, "ValidatingWebhookConfiguration", "raykopf-operator")
    hooks = {hook["name"]: hook for hook in configuration["webhooks"]}
    assert set(hooks) == set(KUBERAY_WEBHOOKS)
    for name, (path, resource) in KUBERAY_WEBHOOKS.items():
        hook = hooks[name]
        assert hook["clientConfig"] == {
            "service": {
                "name": "raykopf-operator-webhook",
                "namespace": "raykopf-system",
                "path": path,
                "port": 443,
            }
        }  # no caBundle: the operator writes it, and Helm's merge keeps it
        (rule,) = hook["rules"]
        assert (rule["apiGroups"], rule["apiVersions"], rule["resources"]) == (["ray.io"], ["v1"], [resource])
        assert rule["operations"] == ["CREATE", "UPDATE"]
        assert (hook["failurePolicy"], hook["sideEffects"], hook["timeoutSeconds"]) == ("Fail", "None", 5)
        assert hook["matchPolicy"] == "Equivalent"
        assert hook["namespaceSelector"] == {}
    (service,) = find(docs, "Service", "raykopf-operator-webhook")
    assert service["spec"]["ports"] == [
        {"name": "webhook", "port": 443, "targetPort": "webhook", "protocol": "TCP"}
    ]
    (deployment,) = find(docs, "Deployment", "raykopf-operator")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert {"name": "webhook", "containerPort": 9443, "protocol": "TCP"} in container["ports"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "webhook-cert"]
    assert mount["mountPath"] == "/tmp/k8s-webhook-server/serving-certs"
    assert not mount["readOnly"]
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == "webhook-cert")
    # Exactly what making the certificate needs: its own Secret, this release's configuration.
    (role,) = find(docs, "Role", "raykopf-operator-webhook")
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": ["raykopf-operator-webhook-cert"],
            "verbs": ["get"],
        },
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
    ]
    (cluster_role,) = find(docs, "ClusterRole", "raykopf-operator-webhook")
    assert cluster_role["rules"] == [
        {
            "apiGroups": ["admissionregistration.k8s.io"],
            "resources": ["validatingwebhookconfigurations"],
            "resourceNames": ["raykopf-operator"],
            "verbs": ["get", "update"],
        }
    ]
    (policy,) = find(docs, "NetworkPolicy")
    assert {"ports": [{"port": "webhook", "protocol": "TCP"}]} in policy["spec"]["ingress"]


def test_the_webhook_with_cert_manager_and_its_settings(helm: Path) -> None:
    docs = objects(
        helm,
        "webhook.certManager.enabled=true",
        "webhook.failurePolicy=Ignore",
        "webhook.timeoutSeconds=3",
        "webhook.namespaceSelector.matchLabels.ray=on",
    )
    (configuration,) = find(docs, "ValidatingWebhookConfiguration")
    assert configuration["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": "raykopf-system/raykopf-operator-webhook"
    }
    for hook in configuration["webhooks"]:
        assert (hook["failurePolicy"], hook["timeoutSeconds"]) == ("Ignore", 3)
        assert hook["namespaceSelector"] == {"matchLabels": {"ray": "on"}}
    (certificate,) = find(docs, "Certificate", "raykopf-operator-webhook")
    assert certificate["spec"]["secretName"] == "raykopf-operator-webhook-cert"
    assert "raykopf-operator-webhook.raykopf-system.svc" in certificate["spec"]["dnsNames"]
    assert certificate["spec"]["issuerRef"] == {"name": "raykopf-operator-webhook", "kind": "Issuer"}
    assert find(docs, "Issuer", "raykopf-operator-webhook")[0]["spec"] == {"selfSigned": {}}
    (deployment,) = find(docs, "Deployment", "raykopf-operator")
    pod = deployment["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert "--webhook-addr=:9443" in args
    assert not any(a.startswith(("--webhook-cert-secret", "--webhook-configuration")) for a in args)
    volume = next(v for v in pod["volumes"] if v["name"] == "webhook-cert")
    assert volume == {"name": "webhook-cert", "secret": {"secretName": "raykopf-operator-webhook-cert"}}
    assert (
        find(docs, "Role", "raykopf-operator-webhook") == []
    )  # cert-manager writes; the operator reads files
    issued = objects(
        helm,
        "webhook.certManager.enabled=true",
        "webhook.certManager.issuerRef.name=corp-ca",
        "webhook.certManager.issuerRef.kind=ClusterIssuer",
    )
    assert find(issued, "Issuer") == []
    (certificate,) = find(issued, "Certificate")
    assert certificate["spec"]["issuerRef"] == {"name": "corp-ca", "kind": "ClusterIssuer"}


def test_the_webhook_can_be_turned_off(helm: Path) -> None:
    docs = objects(helm, "webhook.enabled=false")
    assert find(docs, "ValidatingWebhookConfiguration") == []
    assert find(docs, "Service", "raykopf-operator-webhook") == []
    (deployment,) = find(docs, "Deployment", "raykopf-operator")
    assert not any(
        a.startswith("--webhook") for a in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    )
