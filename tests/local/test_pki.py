"""Certificates: the apiserver is reachable by the addresses pods use, and identities carry groups."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from raykopf_local.pki import Client, ensure_pki


def test_pki_has_the_serving_sans_and_client_identities(tmp_path: Path) -> None:
    ensure_pki(
        tmp_path,
        server_ips=("127.0.0.1", "198.19.0.1"),
        clients=(Client("admin", "me", ("system:masters",)),),
    )
    server = x509.load_pem_x509_certificate((tmp_path / "apiserver.crt").read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("198.19.0.1") in names.get_values_for_type(x509.IPAddress)
    assert "kubernetes.default.svc.cluster.local" in names.get_values_for_type(x509.DNSName)
    admin = x509.load_pem_x509_certificate((tmp_path / "admin.crt").read_bytes())
    assert admin.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "me"
    assert admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    assert admin.issuer == x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes()).subject
    before = (tmp_path / "ca.crt").read_bytes()
    ensure_pki(tmp_path, server_ips=("127.0.0.1",), clients=())
    assert (tmp_path / "ca.crt").read_bytes() == before  # kept across restarts
    assert (tmp_path / "sa.key").stat().st_mode & 0o777 == 0o600
