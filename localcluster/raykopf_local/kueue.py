"""Kueue beside the operator on the local cluster: built unchanged from its Go module (pinned in
`kueue/go.mod`) and run as a process on the host with its ray.io integrations. The apiserver, also
on the host, calls its admission webhooks at https://127.0.0.1 with a certificate of the cluster's CA,
in place of the Service and self-signed certificate of an in-cluster install.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from raykopf_local.gotool import GoTool
from raykopf_local.pki import ensure_server_cert

GO_MODULE = Path(__file__).resolve().parent / "kueue"
PROCESS = "kueue"
NAMESPACE = "kueue-system"
# Off the ports of raykopf (:8080, :8082), the KubeRay peer (:18080, :18082) and the apiserver.
WEBHOOK_PORT = 19443
PROBE_ADDR = ":18081"
# Kueue reads its metrics server's certificate from here when it does not make its own (a fixed path
# in its main package); its webhook's certificate comes from the configuration's certDir.
METRICS_CERT_DIR = Path("/etc/kueue/metrics/certs")
# The workloads it queues here: the ray.io kinds only.
FRAMEWORKS = ("ray.io/rayjob", "ray.io/raycluster", "ray.io/rayservice")
# Its webhooks kept: its own kinds' and those of the frameworks above (the others would put every
# Job, Pod and Deployment of the cluster behind a process on the host).
WEBHOOK_GROUPS = {"kueue.x-k8s.io", "ray.io"}

KUEUE = GoTool(
    title="Kueue",
    wrapper=GO_MODULE,
    module="sigs.k8s.io/kueue",
    main_package="sigs.k8s.io/kueue/cmd/kueue",
    name="kueue",
)


def configuration(cert_dir: Path) -> dict[str, Any]:
    """Kueue's Configuration for a single process on the host."""
    return {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "namespace": NAMESPACE,
        "health": {"healthProbeBindAddress": PROBE_ADDR},
        "metrics": {"bindAddress": "0"},
        "webhook": {"port": WEBHOOK_PORT, "host": "127.0.0.1", "certDir": str(cert_dir)},
        "leaderElection": {"leaderElect": False},
        "internalCertManagement": {"enable": False},
        "integrations": {"frameworks": list(FRAMEWORKS)},
    }


def args(kubeconfig: Path, config: Path) -> list[str]:
    # The on-demand visibility API would serve on :8082, raykopf's probe port.
    return [f"--kubeconfig={kubeconfig}", f"--config={config}", "--feature-gates=VisibilityOnDemand=false"]


def ready() -> bool:
    """Kueue answers its readiness probe (its webhooks serve, its caches are synced)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1{PROBE_ADDR}/readyz", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def webhook_configurations(source: Path, ca_bundle: bytes) -> list[dict[str, Any]]:
    """Kueue's webhook configurations (`config/components/webhook/manifests.yaml`), named as its
    install names them, kept to WEBHOOK_GROUPS and pointed at the host."""
    documents = yaml.safe_load_all((source / "config/components/webhook/manifests.yaml").read_text())
    kept = []
    for document in documents:
        if not document:
            continue
        webhooks = [
            hook
            for hook in document.get("webhooks") or []
            if any(set(rule.get("apiGroups") or []) & WEBHOOK_GROUPS for rule in hook.get("rules") or [])
        ]
        for hook in webhooks:
            path = hook["clientConfig"]["service"]["path"]
            hook["clientConfig"] = {
                "url": f"https://127.0.0.1:{WEBHOOK_PORT}{path}",
                "caBundle": base64.b64encode(ca_bundle).decode(),
            }
        name = f"kueue-{document['metadata']['name']}"
        kept.append({**document, "metadata": {"name": name}, "webhooks": webhooks})
    return kept


def crd_files(source: Path) -> list[Path]:
    return sorted((source / "config/components/crd/bases").glob("*.yaml"))


def install(kubectl: Callable[..., str], source: Path, ca_bundle: bytes, state: Path) -> None:
    """Kueue's CRDs, its namespace and its webhooks (server-side apply: its CRDs are too large for
    the annotation of a client-side one)."""
    names = []
    for crd in crd_files(source):
        kubectl("apply", "--server-side", "--force-conflicts", "-f", str(crd))
        names.append(f"crd/{yaml.safe_load(crd.read_text())['metadata']['name']}")
    kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
    manifest = state / "webhooks.yaml"
    manifest.write_text(yaml.safe_dump_all(webhook_configurations(source, ca_bundle)))
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(namespace))
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(manifest))


def uninstall(kubectl: Callable[..., str], state: Path) -> None:
    """Its webhooks go (with no process behind them they would refuse every ray.io write)."""
    manifest = state / "webhooks.yaml"
    if manifest.exists():
        kubectl("delete", "--ignore-not-found", "-f", str(manifest))


def certificates(pki: Path, state: Path) -> Path:
    """The webhook's and the metrics server's certificate (for 127.0.0.1, from the cluster's CA);
    return the webhook's certDir."""
    ensure_server_cert(pki, "kueue-webhook", ("127.0.0.1",))
    cert_dir = state / "certs"
    for folder in (cert_dir, METRICS_CERT_DIR):
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pki / "kueue-webhook.crt", folder / "tls.crt")
        shutil.copyfile(pki / "kueue-webhook.key", folder / "tls.key")
    return cert_dir


def kubectl_runner(binary: Path, kubeconfig: Path) -> Callable[..., str]:
    def run(*argv: str, input: str | None = None) -> str:
        done = subprocess.run(
            [str(binary), f"--kubeconfig={kubeconfig}", *argv],
            input=input,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(argv)} failed: {done.stderr.strip()[-500:]}")
        return done.stdout

    return run
