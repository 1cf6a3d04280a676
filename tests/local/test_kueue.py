"""Kueue on the local cluster: what is pinned, and the webhooks taken from its own manifests (read from
its module, through the Go module proxy) as the host-served process needs them."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from raykopf_local import kueue
from raykopf_local.gomodule import module_digest


@pytest.fixture(scope="module")
def source() -> Path:
    return kueue.KUEUE.source()


def test_the_pin_is_kueues_release_and_the_binary_is_cached_by_it() -> None:
    assert kueue.KUEUE.version == "v0.17.0"
    binary = kueue.KUEUE.binary(Path("/cache"))
    assert binary == Path(f"/cache/kueue-v0.17.0-{module_digest(kueue.GO_MODULE)}/kueue")


def test_its_webhooks_for_its_own_and_the_ray_kinds_call_the_host_with_the_clusters_ca(source: Path) -> None:
    configurations = kueue.webhook_configurations(source, b"CA PEM")
    names = {c["kind"]: c["metadata"]["name"] for c in configurations}
    # As Kueue's own install names them (its kustomization's namePrefix "kueue-").
    assert names == {
        "MutatingWebhookConfiguration": "kueue-mutating-webhook-configuration",
        "ValidatingWebhookConfiguration": "kueue-validating-webhook-configuration",
    }
    hooks = {hook["name"]: hook for c in configurations for hook in c["webhooks"]}
    # The ray.io kinds, as Kueue's manifests name their webhooks, and Kueue's own.
    for name in (
        "mrayjob.kb.io",
        "vrayjob.kb.io",
        "mraycluster.kb.io",
        "vraycluster.kb.io",
        "mrayservice.kb.io",
    ):
        assert name in hooks
    assert "vclusterqueue.kb.io" in hooks
    assert "vworkload.kb.io" in hooks
    # Nothing that would put every Pod, Job or Deployment of the cluster behind a process on the host.
    for name in ("mpod.kb.io", "mjob.kb.io", "mdeployment.kb.io", "vstatefulset.kb.io"):
        assert name not in hooks
    assert hooks["mrayjob.kb.io"]["clientConfig"] == {
        "url": "https://127.0.0.1:19443/mutate-ray-io-v1-rayjob",
        "caBundle": base64.b64encode(b"CA PEM").decode(),
    }
    for hook in hooks.values():
        assert hook["clientConfig"]["url"].startswith("https://127.0.0.1:19443/")
        assert hook["failurePolicy"] == "Fail"  # as Kueue ships them


def test_its_configuration_runs_one_process_with_the_ray_integrations() -> None:
    config = kueue.configuration(Path("/certs"))
    assert config["apiVersion"] == "config.kueue.x-k8s.io/v1beta2"
    assert config["integrations"]["frameworks"] == ["ray.io/rayjob", "ray.io/raycluster", "ray.io/rayservice"]
    assert config["internalCertManagement"] == {"enable": False}
    assert config["webhook"] == {"port": 19443, "host": "127.0.0.1", "certDir": "/certs"}
    assert config["leaderElection"] == {"leaderElect": False}
