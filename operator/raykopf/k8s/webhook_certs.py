"""The admission webhook's serving certificate when no cert-manager gives one: a CA and a server
certificate made once, kept in a Secret that every replica reads (the first to start creates it), and
the CA written into the ValidatingWebhookConfiguration's `caBundle`.

kopf's own self-signed server makes a different certificate in each replica (so the apiserver could
trust only one of them) and needs `certbuilder`/`oscrypto`, whose released version cannot read the
version string of current OpenSSL 3 builds; the certificate is made here with `cryptography` instead
and handed to kopf's WebhookServer as files.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raykopf.k8s.client import ApiError, KubeClient

log = logging.getLogger("raykopf.webhook")

VALIDITY = datetime.timedelta(days=3650)  # rotated by deleting the Secret and restarting the replicas
CONFIGURATIONS = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"


@dataclass(frozen=True)
class ServingCertificate:
    ca: bytes
    cert: bytes
    key: bytes

    def write(self, folder: Path) -> tuple[Path, Path]:
        """tls.crt and tls.key (and ca.crt) in `folder`, as a mounted kubernetes.io/tls Secret has them."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "ca.crt").write_bytes(self.ca)
        (folder / "tls.crt").write_bytes(self.cert)
        key = folder / "tls.key"
        key.touch(mode=0o600)
        key.write_bytes(self.key)
        return folder / "tls.crt", key


def service_names(service: str, namespace: str, cluster_domain: str) -> list[str]:
    """The names the apiserver may use for a webhook Service (it dials `<service>.<namespace>.svc`)."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.{cluster_domain}",
    ]


def make_certificate(names: list[str], now: datetime.datetime | None = None) -> ServingCertificate:
    """A CA and a server certificate it signs for `names` (DNS names or IP addresses)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    start = (now or datetime.datetime.now(datetime.UTC)) - datetime.timedelta(minutes=5)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "raykopf-webhook-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    alternatives: list[x509.GeneralName] = []
    for name in names:
        try:
            alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternatives.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return ServingCertificate(
        ca=ca.public_bytes(pem),
        cert=cert.public_bytes(pem),
        key=key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def _from_secret(secret: dict[str, Any]) -> ServingCertificate | None:
    data = secret.get("data") or {}
    try:
        parts = [base64.b64decode(data[key]) for key in ("ca.crt", "tls.crt", "tls.key")]
    except (KeyError, ValueError, TypeError):
        return None
    return ServingCertificate(*parts) if all(parts) else None


async def ensure_secret(
    client: KubeClient, namespace: str, name: str, names: list[str]
) -> ServingCertificate:
    """The certificate in Secret `namespace/name`, created now if there is none. Replicas starting
    together race on the create; the loser reads the winner's, so every replica serves the same one."""
    path = f"/api/v1/namespaces/{namespace}/secrets/{name}"
    for _ in range(3):
        secret = await client.get(path)
        if secret is not None:
            found = _from_secret(secret)
            if found is None:
                raise RuntimeError(
                    f"Secret {namespace}/{name} holds no ca.crt, tls.crt and tls.key: delete it so that the "
                    "operator makes a new certificate, or give one in that form"
                )
            return found
        made = await asyncio.to_thread(make_certificate, names)  # key generation: off the loop
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/name": "raykopf"},
            },
            "type": "kubernetes.io/tls",
            "data": {
                key: base64.b64encode(value).decode()
                for key, value in (("ca.crt", made.ca), ("tls.crt", made.cert), ("tls.key", made.key))
            },
        }
        try:
            await client.create(f"/api/v1/namespaces/{namespace}/secrets", body)
        except ApiError as error:
            if error.status == 409:
                continue  # another replica made it first: read theirs
            raise
        log.info("made the webhook's serving certificate", extra={"secret": f"{namespace}/{name}"})
        return made
    raise RuntimeError(f"Secret {namespace}/{name}: created and gone again three times")


async def inject_ca_bundle(client: KubeClient, configuration: str, ca: bytes) -> bool | None:
    """Write `ca` into every webhook of the ValidatingWebhookConfiguration `configuration`; True when
    one was changed, None when the configuration is not there (for the caller to say, not an error)."""
    bundle = base64.b64encode(ca).decode()
    path = f"{CONFIGURATIONS}/{configuration}"
    for _ in range(5):
        current = await client.get(path)
        if current is None:
            return None
        webhooks = current.get("webhooks") or []
        if all((hook.get("clientConfig") or {}).get("caBundle") == bundle for hook in webhooks):
            return False
        for hook in webhooks:
            hook.setdefault("clientConfig", {})["caBundle"] = bundle
        try:  # the resourceVersion makes a concurrent change (another replica, Helm) a conflict
            await client.request("PUT", path, body=current)
        except ApiError as error:
            if error.status == 409:
                continue
            raise
        log.info("wrote the webhook CA into its configuration", extra={"configuration": configuration})
        return True
    raise RuntimeError(f"ValidatingWebhookConfiguration {configuration}: changed under every write")
