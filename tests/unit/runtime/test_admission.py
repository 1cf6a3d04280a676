"""The admission webhook: what it refuses and lets through, and kopf's admission server answering an
AdmissionReview over TLS with the certificate the operator made and kept in a Secret."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import logging
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from cryptography import x509

from raykopf.k8s import webhook_certs
from raykopf.k8s.client import KubeClient
from raykopf.runtime.admission import WebhookOptions, denial, review, serve_admission, wait_listening
from raykopf.runtime.run import kopf_login
from raykopf.validation import Gates
from tests.unit.k8s.server import client_for

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = yaml.safe_load((ROOT / "manifests" / "samples" / "raycluster.sample.yaml").read_text())
TYPO = "spec.headGroupSpec.template.spec.containers[0].imagePullPolcy"


def cluster(**spec: Any) -> dict[str, Any]:
    body = copy.deepcopy(SAMPLE)
    body["metadata"] = {"name": "demo", "namespace": "ns"}
    body["spec"].update(spec)
    return body


def with_typo(body: dict[str, Any]) -> dict[str, Any]:
    body = copy.deepcopy(body)
    body["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    return body


def test_a_valid_sample_is_admitted_without_a_word() -> None:
    assert review("CREATE", cluster(), None, Gates()) == ([], [])


def test_a_misspelled_pod_template_field_is_refused_with_its_path() -> None:
    errors, _ = review("CREATE", with_typo(cluster()), None, Gates())
    assert len(errors) == 1
    assert errors[0].startswith(f"{TYPO}: unknown field 'imagePullPolcy'"), errors
    assert "did you mean 'imagePullPolicy'" in errors[0]


def test_every_error_is_in_the_denial_in_the_apiservers_form() -> None:
    body = with_typo(cluster())
    body["spec"]["workerGroupSpecs"][0]["replicas"] = -1
    errors, _ = review("CREATE", body, None, Gates())
    text = denial("RayCluster", "demo", errors)
    assert text.startswith('RayCluster.ray.io "demo" is invalid: ')
    assert TYPO in text, text
    assert "spec.workerGroupSpecs[0].replicas" in text, text


def test_an_update_that_breaks_a_rule_is_refused() -> None:
    errors, _ = review("UPDATE", with_typo(cluster()), cluster(), Gates())
    assert [e.split(":")[0] for e in errors] == [TYPO]


def test_a_transition_rule_is_checked_on_update() -> None:
    old = cluster(managedBy="ray.io/kuberay-operator")
    new = cluster(managedBy="kueue.x-k8s.io/multikueue")
    errors, _ = review("UPDATE", new, old, Gates())
    assert any(e.startswith("spec.managedBy:") for e in errors), errors


def test_an_object_invalid_before_the_webhook_can_still_get_finalizers_and_be_fixed() -> None:
    old = with_typo(cluster())
    new = copy.deepcopy(old)
    new["metadata"]["finalizers"] = ["ray.io/gcs-ft-redis-cleanup-finalizer"]
    errors, warnings = review("UPDATE", new, old, Gates())
    assert errors == []
    assert warnings == [
        f"still invalid (not changed by this update): {TYPO}: " + warnings[0].split(": ", 2)[2]
    ]
    # Fixed: no word at all.
    assert review("UPDATE", cluster(), old, Gates()) == ([], [])


def test_a_create_counts_no_earlier_errors() -> None:
    errors, _ = review("CREATE", with_typo(cluster()), with_typo(cluster()), Gates())
    assert errors  # oldObject is only read on UPDATE


def test_the_operators_certificate_is_a_ca_and_a_server_certificate_it_signed() -> None:
    names = webhook_certs.service_names("raykopf-webhook", "raykopf-system", "cluster.local")
    made = webhook_certs.make_certificate([*names, "127.0.0.1"])
    ca = x509.load_pem_x509_certificate(made.ca)
    cert = x509.load_pem_x509_certificate(made.cert)
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "raykopf-webhook.raykopf-system.svc" in sans.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


# --- kopf's admission server, in process, against a fake apiserver -----------------------------------

RAY_RESOURCES = [
    {"name": plural, "singularName": plural[:-1], "namespaced": True, "kind": kind, "verbs": ["get", "list"]}
    for kind, plural in (("RayCluster", "rayclusters"), ("RayJob", "rayjobs"), ("RayService", "rayservices"))
]


def answer(body: dict[str, Any]) -> Any:
    async def handler(_: web.Request) -> web.Response:
        return web.json_response(body)

    return handler


class FakeApiserver:
    """Discovery for kopf, one Secret store, one ValidatingWebhookConfiguration."""

    def __init__(self) -> None:
        self.secrets: dict[str, dict[str, Any]] = {}
        self.secret_creates = 0
        self.configuration: dict[str, Any] | None = {
            "metadata": {"name": "raykopf-webhook", "resourceVersion": "1"},
            "webhooks": [{"name": "vraycluster.kb.io", "clientConfig": {"url": "https://127.0.0.1/x"}}],
        }
        self.app = web.Application()
        self.app.add_routes(
            [
                web.get("/api", answer({"versions": ["v1"]})),
                web.get("/api/v1", answer({"resources": []})),
                web.get("/apis", self.groups),
                web.get("/apis/ray.io/v1", answer({"resources": RAY_RESOURCES})),
                web.get("/apis/{group}/{version}", answer({"resources": []})),
                web.get("/api/v1/namespaces/{ns}/secrets/{name}", self.get_secret),
                web.post("/api/v1/namespaces/{ns}/secrets", self.create_secret),
                web.get(f"{webhook_certs.CONFIGURATIONS}/{{name}}", self.get_configuration),
                web.put(f"{webhook_certs.CONFIGURATIONS}/{{name}}", self.put_configuration),
            ]
        )

    async def groups(self, _: web.Request) -> web.Response:
        ray = {"groupVersion": "ray.io/v1", "version": "v1"}
        return web.json_response({"groups": [{"name": "ray.io", "versions": [ray], "preferredVersion": ray}]})

    async def get_secret(self, request: web.Request) -> web.Response:
        found = self.secrets.get(request.match_info["name"])
        return web.json_response(found) if found else web.json_response({"kind": "Status"}, status=404)

    async def create_secret(self, request: web.Request) -> web.Response:
        body = await request.json()
        name = body["metadata"]["name"]
        if name in self.secrets:
            return web.json_response({"kind": "Status", "reason": "AlreadyExists"}, status=409)
        self.secret_creates += 1
        self.secrets[name] = body
        return web.json_response(body, status=201)

    async def get_configuration(self, _: web.Request) -> web.Response:
        if self.configuration is None:
            return web.json_response({"kind": "Status"}, status=404)
        return web.json_response(self.configuration)

    async def put_configuration(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.configuration is None:
            return web.json_response({"kind": "Status"}, status=404)
        if body["metadata"]["resourceVersion"] != self.configuration["metadata"]["resourceVersion"]:
            return web.json_response({"kind": "Status", "reason": "Conflict"}, status=409)
        body["metadata"]["resourceVersion"] = str(int(body["metadata"]["resourceVersion"]) + 1)
        self.configuration = body
        return web.json_response(body)


async def apiserver() -> AsyncIterator[tuple[FakeApiserver, KubeClient]]:
    fake = FakeApiserver()
    async for client in client_for(fake.app):
        yield fake, client


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def admission_review(obj: dict[str, Any], operation: str = "CREATE", old: Any = None) -> dict[str, Any]:
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "req-1",
            "kind": {"group": "ray.io", "version": "v1", "kind": "RayCluster"},
            "resource": {"group": "ray.io", "version": "v1", "resource": "rayclusters"},
            "name": obj["metadata"]["name"],
            "namespace": "ns",
            "operation": operation,
            "userInfo": {"username": "alice"},
            "object": obj,
            "oldObject": old,
        },
    }


def test_kopfs_admission_server_answers_over_tls_on_every_replica_with_one_certificate(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="raykopf.webhook")  # the operator logs at info

    async def main() -> None:
        async for fake, client in apiserver():
            stop = asyncio.Event()
            ports = [free_port(), free_port()]
            replicas = [
                WebhookOptions(
                    address=f"127.0.0.1:{port}",
                    cert_dir=tmp_path / str(port),
                    secret="raykopf-webhook-cert",
                    configuration="raykopf-webhook",
                    service="raykopf-webhook",
                    namespace="raykopf-system",
                )
                for port in ports
            ]
            tasks = [
                asyncio.create_task(
                    serve_admission(client, options, Gates(), "cluster.local", kopf_login(client), stop)
                )
                for options in replicas
            ]
            try:
                for options in replicas:
                    await asyncio.wait_for(wait_listening(options.address, stop), 30)
                assert fake.secret_creates == 1  # the second replica read the first one's
                data = fake.secrets["raykopf-webhook-cert"]["data"]
                ca = base64.b64decode(data["ca.crt"])
                assert fake.configuration is not None
                hook = fake.configuration["webhooks"][0]
                assert base64.b64decode(hook["clientConfig"]["caBundle"]) == ca
                trust = ssl.create_default_context(cadata=ca.decode())
                trust.check_hostname = False  # the certificate names the Service; here it is 127.0.0.1
                async with aiohttp.ClientSession() as session:
                    for port in ports:
                        url = f"https://127.0.0.1:{port}/validate-ray-io-v1-raycluster"
                        bad = admission_review(with_typo(cluster()))
                        async with session.post(url, json=bad, ssl=trust) as response:
                            answer = (await response.json())["response"]
                        assert answer["uid"] == "req-1"
                        assert answer["allowed"] is False
                        assert answer["status"]["code"] == 422
                        assert TYPO in answer["status"]["message"], answer
                        good = admission_review(cluster())
                        async with session.post(url, json=good, ssl=trust) as response:
                            answer = (await response.json())["response"]
                        assert answer["allowed"] is True, answer
                        assert "warnings" not in answer, answer
                        relabel = with_typo(cluster())
                        relabel["metadata"]["labels"] = {"team": "a"}
                        update = admission_review(relabel, "UPDATE", with_typo(cluster()))
                        async with session.post(url, json=update, ssl=trust) as response:
                            answer = (await response.json())["response"]
                        assert answer["allowed"] is True
                        assert [w.split(":")[0] for w in answer["warnings"]] == [
                            "still invalid (not changed by this update)"
                        ], json.dumps(answer)
                        # Each answer closes its connection: the next request dials again.
                        assert response.headers.get("Connection") == "close"
            finally:
                stop.set()
                await asyncio.wait_for(asyncio.gather(*tasks), 30)

    asyncio.run(main())
    refusals = [r for r in caplog.records if r.getMessage() == "refused at admission"]
    assert len(refusals) == 2  # one line per refusal, naming the object
    assert {getattr(r, "object", None) for r in refusals} == {"ns/demo"}


def test_a_missing_certificate_is_said_with_the_way_out(tmp_path: Path) -> None:
    async def main() -> None:
        async for _, client in apiserver():
            options = WebhookOptions(address="127.0.0.1:0", cert_dir=tmp_path)
            with pytest.raises(
                RuntimeError, match=r"tls.crt is missing: mount .* or give --webhook-cert-secret"
            ):
                await serve_admission(
                    client, options, Gates(), "cluster.local", kopf_login(client), asyncio.Event()
                )

    asyncio.run(main())


def test_the_ca_goes_into_the_configuration_once_and_a_missing_one_is_told_apart() -> None:
    async def main() -> None:
        async for fake, client in apiserver():
            ca = webhook_certs.make_certificate(["127.0.0.1"]).ca
            assert await webhook_certs.inject_ca_bundle(client, "raykopf-webhook", ca) is True
            assert await webhook_certs.inject_ca_bundle(client, "raykopf-webhook", ca) is False  # no rewrite
            assert fake.configuration is not None
            assert fake.configuration["metadata"]["resourceVersion"] == "2"
            fake.configuration = None
            assert await webhook_certs.inject_ca_bundle(client, "raykopf-webhook", ca) is None

    asyncio.run(main())
