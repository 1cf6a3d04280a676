"""The local cluster's certificates: one CA, the apiserver's serving certificate (with the IP SANs
pods use), client certificates for each component, and the service-account signing key."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=365)


@dataclass(frozen=True)
class Client:
    """A client identity: the apiserver reads the user from CN and the groups from O."""

    file: str
    user: str
    groups: tuple[str, ...] = ()


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common: str, groups: tuple[str, ...] = ()) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
    return x509.Name([*parts, x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _load(folder: Path, name: str) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    cert = x509.load_pem_x509_certificate((folder / f"{name}.crt").read_bytes())
    key = serialization.load_pem_private_key((folder / f"{name}.key").read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return cert, key


def _sign(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None,
    *,
    ca: bool = False,
    server_names: tuple[str, ...] = (),
    server_ips: tuple[str, ...] = (),
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, signing_key = (issuer[0].subject, issuer[1]) if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        return builder.add_extension(usage, critical=True).sign(signing_key, hashes.SHA256())
    usage = x509.KeyUsage(True, False, True, False, False, False, False, False, False)
    purposes = [ExtendedKeyUsageOID.CLIENT_AUTH]
    builder = builder.add_extension(usage, critical=True)
    if server_names or server_ips:
        purposes.append(ExtendedKeyUsageOID.SERVER_AUTH)
        alt = [x509.DNSName(n) for n in server_names] + [
            x509.IPAddress(ipaddress.ip_address(i)) for i in server_ips
        ]
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    builder = builder.add_extension(x509.ExtendedKeyUsage(purposes), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def ensure_pki(folder: Path, *, server_ips: tuple[str, ...], clients: tuple[Client, ...]) -> None:
    """Create whatever is missing in `folder`; existing files are kept so restarts keep trust."""
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "ca.crt").exists():
        key = _key()
        _write_key(folder / "ca.key", key)
        _write_cert(folder / "ca.crt", _sign(_name("raykopf-local-ca"), key, None, ca=True))
    ca = _load(folder, "ca")
    if not (folder / "apiserver.crt").exists():
        key = _key()
        names = (
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            "localhost",
        )
        cert = _sign(_name("kube-apiserver"), key, ca, server_names=names, server_ips=server_ips)
        _write_key(folder / "apiserver.key", key)
        _write_cert(folder / "apiserver.crt", cert)
    if not (folder / "sa.key").exists():
        key = _key()
        _write_key(folder / "sa.key", key)
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        (folder / "sa.pub").write_bytes(public)
    for client in clients:
        if not (folder / f"{client.file}.crt").exists():
            key = _key()
            _write_key(folder / f"{client.file}.key", key)
            _write_cert(folder / f"{client.file}.crt", _sign(_name(client.user, client.groups), key, ca))


def ensure_server_cert(folder: Path, name: str, ips: tuple[str, ...]) -> None:
    """A serving certificate signed by the cluster CA (the node agent's kubelet endpoint)."""
    if (folder / f"{name}.crt").exists():
        return
    key = _key()
    cert = _sign(_name(name), key, _load(folder, "ca"), server_names=(name,), server_ips=ips)
    _write_key(folder / f"{name}.key", key)
    _write_cert(folder / f"{name}.crt", cert)
