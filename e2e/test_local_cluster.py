"""The local cluster behaves as a Kubernetes cluster does for the things KubeRay pods rely on."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from tests.compat import upstream

from e2e.conftest import ROOT, Kubectl, create_namespace, raykopf, wait_for
from e2e.ray_jobs import submit_job, wait_job
from raykopf.k8s.client import KubeClient
from raykopf_local import settings
from raykopf_local.agent.sandbox import NETNS_PREFIX
from raykopf_local.cluster import LocalCluster
from raykopf_local.network import pod_mac

pytestmark = pytest.mark.local_only(
    "tests of the local cluster itself (its node agent, Pod network and processes)"
)

PYTHON = "rayproject/ray:2.60.0"  # recorded in the pod status; the runtime environment provides it


def pod_ready(kubectl: Kubectl, namespace: str, name: str) -> bool:
    pod = kubectl.json("get", "pod", name, "-n", namespace)
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def test_crds_apply_client_side_and_accept_every_ray_sample(kubectl: Kubectl, namespace: str) -> None:
    # Plain client-side apply: KubeRay's own CRDs fail here with "metadata.annotations: Too long".
    out = kubectl("apply", "-f", str(ROOT / "crds"))
    assert "rayclusters.ray.io" in out
    kubectl(
        "wait",
        "--for=condition=Established",
        "crd/rayclusters.ray.io",
        "crd/rayjobs.ray.io",
        "crd/rayservices.ray.io",
    )
    upstream.require()
    samples = list(upstream.manifests(ROOT / "manifests" / "samples")) + upstream.samples()
    rejected = []
    for path, doc in samples:
        doc["metadata"].pop("namespace", None)
        result = subprocess.run(
            [
                str(kubectl.binary),
                f"--kubeconfig={kubectl.kubeconfig}",
                "create",
                "--dry-run=server",
                "-n",
                namespace,
                "-f",
                "-",
            ],
            input=yaml.safe_dump(doc),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            rejected.append(f"{path.name}: {result.stderr.strip()}")
    assert rejected == []
    assert len(samples) >= 4
    # Empty strings are values, not null (a Go >= 1.19 build of 1.20 got this wrong until patched).
    raycluster = next(doc for _, doc in samples if doc["kind"] == "RayCluster")
    empty = {**raycluster, "metadata": {"name": "empty-strings"}}
    empty["spec"] = {**empty["spec"], "rayVersion": ""}
    kubectl("create", "--dry-run=server", "-n", namespace, "-f", "-", input=yaml.safe_dump(empty))


def test_printer_columns_show_in_kubectl_get(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-f", str(ROOT / "crds"))
    kubectl("apply", "-n", namespace, "-f", str(ROOT / "manifests" / "samples" / "raycluster.sample.yaml"))
    header = kubectl("get", "rayclusters", "-n", namespace).splitlines()[0].split()
    assert header[:6] == ["NAME", "DESIRED", "WORKERS", "AVAILABLE", "WORKERS", "CPUS"]
    wide = kubectl("get", "rayclusters", "-n", namespace, "-o", "wide").splitlines()[0]
    assert "HEAD POD IP" in wide
    assert "HEAD SERVICE IP" in wide


def test_pod_runs_is_probed_ready_and_is_deleted_gracefully(kubectl: Kubectl, namespace: str) -> None:
    marker = f"marker-{namespace}"
    kubectl.apply(
        f"""
apiVersion: v1
kind: Pod
metadata: {{name: slow-web, labels: {{app: web}}}}
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: web
    image: {PYTHON}
    command: ["/bin/bash", "-c", "sleep 3; exec -a {marker} python -m http.server 8080"]
    readinessProbe:
      httpGet: {{path: /, port: 8080}}
      periodSeconds: 1
""",
        namespace,
    )
    wait_for(
        lambda: kubectl.json("get", "pod", "slow-web", "-n", namespace)["status"].get("phase") == "Running",
        30,
        "Running",
    )
    assert not pod_ready(kubectl, namespace, "slow-web"), "ready before the server listens"
    kubectl("wait", "--for=condition=Ready", "pod/slow-web", "-n", namespace, "--timeout=30s")
    pod = kubectl.json("get", "pod", "slow-web", "-n", namespace)
    status = pod["status"]["containerStatuses"][0]
    assert status["image"] == PYTHON
    assert "running" in status["state"]
    assert pod["status"]["podIP"].startswith("198.18.")
    assert marker in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    kubectl("delete", "pod", "slow-web", "-n", namespace, "--wait=true", "--timeout=30s")
    assert (
        marker not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    )


CLIENT = """
import time, urllib.request

def get(url):
    for _ in range(20):
        try:
            return urllib.request.urlopen(url, timeout=5).status
        except OSError:
            time.sleep(0.5)
    return urllib.request.urlopen(url, timeout=5).status

for url in URLS:
    print(get(url))
"""


def test_service_dns_and_cluster_ip_reach_a_ready_pod(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(
        f"""
apiVersion: v1
kind: Pod
metadata: {{name: web, labels: {{app: web}}}}
spec:
  containers:
  - name: web
    image: {PYTHON}
    command: ["python", "-m", "http.server", "8080"]
    ports: [{{containerPort: 8080, name: http}}]
    readinessProbe: {{tcpSocket: {{port: http}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web-headless}}
spec:
  clusterIP: None
  selector: {{app: web}}
  ports: [{{name: http, port: 8080}}]
""",
        namespace,
    )
    kubectl("wait", "--for=condition=Ready", "pod/web", "-n", namespace, "--timeout=30s")
    # Like kube-proxy, the agent syncs Services at most once a second: the client retries briefly.
    urls = [
        f"http://{host}/"
        for host in (
            "web",
            f"web.{namespace}",
            f"web.{namespace}.svc.cluster.local",
            "web-headless:8080",
            f"web-headless.{namespace}.svc.cluster.local:8080",
        )
    ]
    command = json.dumps(["python", "-c", f"URLS = {urls!r}\n{CLIENT}"])
    kubectl.apply(
        f"""
apiVersion: v1
kind: Pod
metadata: {{name: client}}
spec:
  restartPolicy: Never
  containers:
  - name: client
    image: {PYTHON}
    command: {command}
""",
        namespace,
    )
    wait_for(
        lambda: (
            kubectl.json("get", "pod", "client", "-n", namespace)["status"].get("phase")
            in ("Succeeded", "Failed")
        ),
        60,
        "the client pod to finish",
    )
    assert kubectl.json("get", "pod", "client", "-n", namespace)["status"]["phase"] == "Succeeded"
    assert kubectl("logs", "client", "-n", namespace).split() == ["200"] * 5
    cluster_ip = kubectl("get", "service", "web", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}")
    assert cluster_ip.startswith("198.19.")
    with urllib.request.urlopen(f"http://{cluster_ip}/", timeout=5) as response:  # from the host
        assert response.status == 200

    # Pods came and went (the client finished): the gateway's MAC is still the fixed one, and the Pod's
    # MAC follows its IP, so no ARP cache on the bridge can go stale.
    assert Path(f"/sys/class/net/{settings.BRIDGE}/address").read_text().strip() == settings.BRIDGE_MAC
    web = kubectl.json("get", "pod", "web", "-n", namespace)
    netns = NETNS_PREFIX + web["metadata"]["uid"][:13]
    link = subprocess.run(["ip", "-n", netns, "-o", "link", "show", "eth0"], capture_output=True, text=True)
    assert f"link/ether {pod_mac(web['status']['podIP'])} " in link.stdout


def test_batch_job_runs_to_complete(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(
        f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: count}}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: count
        image: {PYTHON}
        command: ["python", "-c", "print(sum(range(10)))"]
""",
        namespace,
    )
    kubectl("wait", "--for=condition=complete", "job/count", "-n", namespace, "--timeout=60s")
    assert kubectl("logs", "job/count", "-n", namespace).strip() == "45"
    pod = kubectl(
        "get", "pods", "-n", namespace, "-l", "job-name=count", "-o", "jsonpath={.items[0].metadata.name}"
    )
    logs = raykopf("local", "logs", pod, "-n", namespace)
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout.strip() == "45"


def test_restart_policy_counts_restarts_and_backs_off(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(
        f"""
apiVersion: v1
kind: Pod
metadata: {{name: crash}}
spec:
  restartPolicy: OnFailure
  containers:
  - name: crash
    image: {PYTHON}
    command: ["/bin/bash", "-c", "echo attempt; exit 3"]
""",
        namespace,
    )

    def restarted() -> dict | None:  # type: ignore[type-arg]
        statuses = kubectl.json("get", "pod", "crash", "-n", namespace)["status"].get(
            "containerStatuses"
        ) or [{}]
        return statuses[0] if statuses[0].get("restartCount", 0) >= 1 else None

    status = wait_for(restarted, 30, "a restart")
    assert status["lastState"]["terminated"]["exitCode"] == 3
    assert kubectl.json("get", "pod", "crash", "-n", namespace)["status"]["phase"] == "Running"
    waiting = wait_for(
        lambda: kubectl.json("get", "pod", "crash", "-n", namespace)["status"]["containerStatuses"][0][
            "state"
        ].get("waiting"),
        30,
        "back-off",
    )
    assert waiting["reason"] == "CrashLoopBackOff"


def test_deleting_a_namespace_stops_its_processes(kubectl: Kubectl, local_cluster: LocalCluster) -> None:
    name = f"t-gone-{int(time.time())}"
    create_namespace(kubectl, name)
    marker = f"sleeper-{name}"
    kubectl.apply(
        f"""
apiVersion: v1
kind: Pod
metadata: {{name: sleeper}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: a
    image: {PYTHON}
    command: ["/bin/bash", "-c", "trap '' TERM; exec -a {marker} sleep 1000"]
  - name: b
    image: {PYTHON}
    command: ["/bin/bash", "-c", "exec -a {marker} sleep 1000"]
""",
        name,
    )
    kubectl("wait", "--for=condition=Ready", "pod/sleeper", "-n", name, "--timeout=30s")
    uid = kubectl("get", "pod", "sleeper", "-n", name, "-o", "jsonpath={.metadata.uid}")
    assert subprocess.run(["pgrep", "-f", marker], capture_output=True, check=False).stdout
    kubectl("delete", "namespace", name, "--wait=true", "--timeout=60s", timeout=90)
    assert not subprocess.run(["pgrep", "-f", marker], capture_output=True, check=False).stdout
    assert (
        f"rk-{uid[:13]}"
        not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    )
    assert not (local_cluster.layout.state / "pods" / uid).exists()


def test_service_account_token_reaches_the_apiserver_and_rbac_applies(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl.apply(
        """
apiVersion: v1
kind: ServiceAccount
metadata: {name: reader}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader}
rules: [{apiGroups: [""], resources: ["pods"], verbs: ["get", "list"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{kind: ServiceAccount, name: reader}]
""",
        namespace,
    )
    probe = (
        "import os, ssl, urllib.request, urllib.error\n"
        "d = '/var/run/secrets/kubernetes.io/serviceaccount/'\n"
        "ctx = ssl.create_default_context(cafile=d + 'ca.crt')\n"
        "base = 'https://%s:%s' % (os.environ['KUBERNETES_SERVICE_HOST'], os.environ['KUBERNETES_SERVICE_PORT_HTTPS'])\n"
        "ns = open(d + 'namespace').read()\n"
        "for what in ('pods', 'secrets'):\n"
        "    req = urllib.request.Request(base + '/api/v1/namespaces/%s/%s' % (ns, what),"
        " headers={'Authorization': 'Bearer ' + open(d + 'token').read()})\n"
        "    try:\n"
        "        print(what, urllib.request.urlopen(req, context=ctx).status)\n"
        "    except urllib.error.HTTPError as e:\n"
        "        print(what, e.code)\n"
    )
    kubectl.apply(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "api-client"},
                "spec": {
                    "serviceAccountName": "reader",
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": PYTHON, "command": ["python", "-c", probe]}],
                },
            }
        ),
        namespace,
    )
    wait_for(
        lambda: (
            kubectl.json("get", "pod", "api-client", "-n", namespace)["status"].get("phase") == "Succeeded"
        ),
        60,
        "the API client",
    )
    assert kubectl("logs", "api-client", "-n", namespace).splitlines() == ["pods 200", "secrets 403"]
    # The token came from a TokenRequest bound to the Pod (the projected `kube-api-access-*` volume
    # the ServiceAccount admission adds), not from a token Secret: current clusters make none.
    pod = kubectl.json("get", "pod", "api-client", "-n", namespace)
    (access,) = [v for v in pod["spec"]["volumes"] if v["name"].startswith("kube-api-access-")]
    sources = [next(iter(s)) for s in access["projected"]["sources"]]
    assert sources == ["serviceAccountToken", "configMap", "downwardAPI"]
    assert kubectl("get", "secrets", "-n", namespace, "-o", "name") == ""


def test_automount_false_leaves_no_token(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(
        f"""
apiVersion: v1
kind: Pod
metadata: {{name: no-token}}
spec:
  automountServiceAccountToken: false
  restartPolicy: Never
  containers:
  - name: c
    image: {PYTHON}
    command: ["/bin/bash", "-c", "test ! -e /var/run/secrets/kubernetes.io/serviceaccount/token && echo absent"]
""",
        namespace,
    )
    wait_for(
        lambda: kubectl.json("get", "pod", "no-token", "-n", namespace)["status"].get("phase") == "Succeeded",
        30,
        "success",
    )
    assert kubectl("logs", "no-token", "-n", namespace).strip() == "absent"


def test_two_pod_ray_cluster_forms_and_runs_a_job(kubectl: Kubectl, namespace: str) -> None:
    kubectl.apply(
        f"""
apiVersion: v1
kind: Service
metadata: {{name: head-svc}}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {{role: head}}
  ports: [{{name: gcs, port: 6379}}, {{name: dashboard, port: 8265}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: head, labels: {{role: head}}}}
spec:
  containers:
  - name: ray-head
    image: rayproject/ray:2.60.0
    command: ["/bin/bash", "-c", "--"]
    args: ["ray start --head --num-cpus=1 --dashboard-host=0.0.0.0 --disable-usage-stats --object-store-memory=100000000 --block"]
    readinessProbe:
      httpGet: {{path: /api/gcs_healthz, port: 8265}}
      periodSeconds: 2
      failureThreshold: 60
---
apiVersion: v1
kind: Pod
metadata: {{name: worker, labels: {{role: worker}}}}
spec:
  initContainers:  # as KubeRay's wait-gcs-ready: join only once the head's GCS answers
  - name: wait-gcs-ready
    image: rayproject/ray:2.60.0
    command: ["/bin/bash", "-c", "until ray health-check --address head-svc.{namespace}.svc.cluster.local:6379; do sleep 1; done"]
  containers:
  - name: ray-worker
    image: rayproject/ray:2.60.0
    command: ["/bin/bash", "-c", "--"]
    args: ["ray start --address=head-svc.{namespace}.svc.cluster.local:6379 --num-cpus=1 --disable-usage-stats --object-store-memory=100000000 --block"]
""",
        namespace,
    )
    kubectl("wait", "--for=condition=Ready", "pod/head", "pod/worker", "-n", namespace, "--timeout=120s")
    head_ip = kubectl("get", "pod", "head", "-n", namespace, "-o", "jsonpath={.status.podIP}")
    worker_ip = kubectl("get", "pod", "worker", "-n", namespace, "-o", "jsonpath={.status.podIP}")
    # One task pinned to each node through Ray's per-node resource: both nodes must run work.
    entrypoint = (
        'python -c "import ray; ray.init(); '
        "f = ray.remote(lambda: ray.util.get_node_ip_address()); "
        f"ips = [f.options(resources={{'node:' + ip: 0.01}}).remote() for ip in ('{head_ip}', '{worker_ip}')]; "
        "print('nodes', sorted(ray.get(ips)))\""
    )
    job = submit_job(head_ip, entrypoint)

    status, logs = wait_job(head_ip, job, 120)
    assert status == "SUCCEEDED", logs
    assert f"nodes {sorted([head_ip, worker_ip])}" in logs


def test_simulated_node_runs_pods_without_processes(
    kubectl: Kubectl, namespace: str, local_cluster: LocalCluster
) -> None:
    nodes = kubectl.json("get", "nodes", "-l", "raykopf.io/simulated=true")["items"]
    assert nodes, "the session cluster registers one simulated node"
    kubectl.apply(
        f"""
apiVersion: v1
kind: Pod
metadata: {{name: ghost}}
spec:
  nodeSelector: {{raykopf.io/simulated: "true"}}
  tolerations: [{{key: raykopf.io/simulated, operator: Exists, effect: NoSchedule}}]
  containers:
  - name: ghost
    image: {PYTHON}
    command: ["/bin/bash", "-c", "exec -a ghost-{namespace} sleep 1000"]
""",
        namespace,
    )
    kubectl("wait", "--for=condition=Ready", "pod/ghost", "-n", namespace, "--timeout=30s")
    pod = kubectl.json("get", "pod", "ghost", "-n", namespace)
    assert pod["spec"]["nodeName"].startswith("raykopf-sim-")
    assert pod["status"]["podIP"].startswith("198.18.")
    assert not subprocess.run(["pgrep", "-f", f"ghost-{namespace}"], capture_output=True, check=False).stdout
    kubectl("delete", "pod", "ghost", "-n", namespace, "--wait=true", "--timeout=20s")


def test_node_is_ready_with_its_allocatable_and_status_reports_every_component(
    kubectl: Kubectl, local_cluster: LocalCluster
) -> None:
    node = kubectl.json("get", "node", "raykopf-node")
    assert node["status"]["allocatable"]["cpu"] == "16"
    assert node["status"]["allocatable"]["memory"] == "64Gi"
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    lease = kubectl.json("get", "lease", "raykopf-node", "-n", "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == "raykopf-node"
    status = raykopf("local", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    lines = dict(
        line.split(None, 1) for line in status.stdout.replace("server version", "server-version").splitlines()
    )
    for component in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "node-agent"):
        assert lines[component].startswith("running (pid "), status.stdout
    assert Path(local_cluster.kubeconfig).is_file()
    # A current Kubernetes: the server and the kubectl built with it report the same release.
    version = json.loads(kubectl("version", "-o", "json"))
    server, client = version["serverVersion"], version["clientVersion"]
    assert (int(server["major"]), int(server["minor"])) >= (1, 34)
    assert server["gitVersion"] == client["gitVersion"] == lines["server-version"].strip()
    assert node["status"]["nodeInfo"]["kubeletVersion"] == server["gitVersion"]


def test_pods_deleted_while_their_sandbox_is_made_leave_no_network_behind(
    kubectl: Kubectl, namespace: str, local_cluster: LocalCluster
) -> None:
    """A veth left on the bridge keeps answering for its released IP: the next Pod given that IP
    loses connections to it now and then (refused). Deletes land within 0.25 s of the create, some while
    the agent is still making the sandbox (before the fix 1 of 80 leaked in one run, 0 of 480 in others:
    a guard against leaks, while the unit test in tests/unit/local pins the race itself)."""

    async def churn() -> None:
        client = KubeClient.from_kubeconfig(local_cluster.kubeconfig)
        try:
            for index in range(100):
                body = {
                    "metadata": {"name": f"churn-{index}"},
                    "spec": {
                        "nodeName": settings.NODE_NAME,
                        "terminationGracePeriodSeconds": 1,
                        "containers": [{"name": "c", "image": PYTHON, "command": ["sleep", "600"]}],
                    },
                }
                await client.create(f"/api/v1/namespaces/{namespace}/pods", body)
                await asyncio.sleep(random.uniform(0, 0.25))
                await client.request("DELETE", f"/api/v1/namespaces/{namespace}/pods/churn-{index}")
        finally:
            await client.close()

    asyncio.run(churn())
    wait_for(lambda: not kubectl("get", "pods", "-n", namespace, "-o", "name").strip(), 60, "the Pods to go")

    def strays() -> list[str]:
        uids = kubectl("get", "pods", "-A", "-o", "jsonpath={.items[*].metadata.uid}").split()
        mine = {"rkh" + uid[:8] for uid in uids}
        links = subprocess.run(
            ["ip", "-o", "link", "show", "master", settings.BRIDGE],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        return [
            name for name in (line.split(":")[1].strip().split("@")[0] for line in links) if name not in mine
        ]

    # Pods of earlier tests' namespaces may still be stopping; a leaked veth never goes.
    left = strays()
    for _ in range(30):
        if not left:
            break
        time.sleep(2)
        left = strays()
    assert left == [], f"veths on the bridge without a Pod: {left}"
