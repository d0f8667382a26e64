"""make run's local CA and server certificate: made once, reused, renewed, and valid for strict verifiers."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import stat
import threading

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from devstack.tls import LocalCertificates, ensure_certificates


def _cert(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _names(files: LocalCertificates) -> list:
    return list(_cert(files.server).extensions.get_extension_for_class(x509.SubjectAlternativeName).value)


def _handshake(files: LocalCertificates, server_hostname: str, cafile=None) -> dict:
    """A real TLS handshake against a tiny server on 127.0.0.1, verified as Python 3.13+ does by default."""
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(files.server, files.server_key)
    client_context = ssl.create_default_context(cafile=str(cafile or files.ca))
    client_context.verify_flags |= ssl.VERIFY_X509_STRICT
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(30)

        def serve_one() -> None:
            try:
                connection, _ = listener.accept()
                connection.settimeout(30)
                with server_context.wrap_socket(connection, server_side=True) as tls:
                    tls.recv(1)  # until the client closes
            except (OSError, ssl.SSLError):
                pass  # the client refused the certificate: the client side reports it

        server = threading.Thread(target=serve_one, daemon=True)
        server.start()
        try:
            with socket.create_connection(listener.getsockname(), timeout=30) as raw:
                with client_context.wrap_socket(raw, server_hostname=server_hostname) as tls:
                    return tls.getpeercert()
        finally:
            server.join(30)


def test_first_use_makes_a_ca_and_a_server_certificate_with_private_keys_0600(tmp_path):
    files = ensure_certificates(tmp_path / "tls")
    assert files.directory == (tmp_path / "tls").resolve()
    for path in (files.ca, files.ca_key, files.server, files.server_key):
        assert path.is_file(), path
    for key in (files.ca_key, files.server_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
        assert b"PRIVATE KEY" in key.read_bytes()
    for public in (files.ca, files.server):
        assert b"PRIVATE" not in public.read_bytes()
    assert sorted(p.name for p in files.directory.iterdir()) == [
        "ca-key.pem",
        "ca.pem",
        "server-key.pem",
        "server.pem",
    ]


def test_the_certificates_have_what_strict_verifiers_require(tmp_path):
    files = ensure_certificates(tmp_path)
    ca, server = _cert(files.ca), _cert(files.server)

    assert "Bedrock Gateway local development CA" in ca.subject.rfc4514_string()
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    ca_identifier = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ca.not_valid_after_utc - ca.not_valid_before_utc > datetime.timedelta(days=9 * 365)

    assert server.issuer == ca.subject
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    authority = server.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert authority.key_identifier == ca_identifier.digest
    server.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert server.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH]
    )
    assert set(_names(files)) == {
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    }
    # Apple refuses server certificates valid for longer (398 days when issued by a public CA).
    assert server.not_valid_after_utc - server.not_valid_before_utc <= datetime.timedelta(days=398)


@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
def test_the_chain_verifies_in_a_real_handshake_with_strict_checks(tmp_path, hostname):
    files = ensure_certificates(tmp_path)
    peer = _handshake(files, hostname)
    assert dict(item[0] for item in peer["subject"])["commonName"].startswith("Bedrock Gateway")


def test_a_name_the_certificate_is_not_for_or_an_unknown_ca_fails_verification(tmp_path):
    files = ensure_certificates(tmp_path / "one")
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch|doesn't match"):
        _handshake(files, "example.com")
    other = ensure_certificates(tmp_path / "two")
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        _handshake(files, "localhost", cafile=other.ca)


def test_a_second_call_reuses_every_file(tmp_path):
    first = ensure_certificates(tmp_path)
    contents = {p: p.read_bytes() for p in (first.ca, first.ca_key, first.server, first.server_key)}
    second = ensure_certificates(tmp_path, ["127.0.0.1", "localhost"])
    assert second == first
    assert {p: p.read_bytes() for p in contents} == contents


def test_a_server_certificate_near_its_expiry_is_reissued_by_the_same_ca(tmp_path):
    eleven_months_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=340)
    files = ensure_certificates(tmp_path, now=eleven_months_ago)
    ca_serial, old_server = _cert(files.ca).serial_number, _cert(files.server)
    assert old_server.not_valid_after_utc - datetime.datetime.now(datetime.UTC) < datetime.timedelta(days=30)

    ensure_certificates(tmp_path)

    assert _cert(files.ca).serial_number == ca_serial
    renewed = _cert(files.server)
    assert renewed.serial_number != old_server.serial_number
    assert renewed.not_valid_after_utc - datetime.datetime.now(datetime.UTC) > datetime.timedelta(days=300)
    _handshake(files, "localhost")


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("devbox.internal", x509.DNSName("devbox.internal")),
        ("10.1.2.3", x509.IPAddress(ipaddress.ip_address("10.1.2.3"))),
    ],
)
def test_a_new_host_gets_a_new_server_certificate_from_the_same_ca(tmp_path, host, name):
    files = ensure_certificates(tmp_path)
    ca_serial, server_serial = _cert(files.ca).serial_number, _cert(files.server).serial_number

    ensure_certificates(tmp_path, [host])

    assert _cert(files.ca).serial_number == ca_serial
    assert _cert(files.server).serial_number != server_serial
    assert name in _names(files) and x509.DNSName("localhost") in _names(files)
    _handshake(files, "127.0.0.1")


def test_a_corrupt_ca_makes_everything_anew(tmp_path):
    files = ensure_certificates(tmp_path)
    ca_serial, server_serial = _cert(files.ca).serial_number, _cert(files.server).serial_number
    files.ca_key.write_text("not a key")

    ensure_certificates(tmp_path)

    assert _cert(files.ca).serial_number != ca_serial
    assert _cert(files.server).serial_number != server_serial
    _handshake(files, "localhost")  # the new server certificate is the new CA's


def test_a_corrupt_or_missing_server_file_reissues_only_the_server_certificate(tmp_path):
    files = ensure_certificates(tmp_path)
    ca_serial = _cert(files.ca).serial_number
    files.server_key.write_bytes(b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n")
    ensure_certificates(tmp_path)
    files.server.unlink()
    ensure_certificates(tmp_path)

    assert _cert(files.ca).serial_number == ca_serial
    _handshake(files, "localhost")


def test_a_server_certificate_from_another_ca_is_replaced(tmp_path):
    files = ensure_certificates(tmp_path / "one")
    other = ensure_certificates(tmp_path / "two")
    files.server.write_bytes(other.server.read_bytes())
    files.server_key.write_bytes(other.server_key.read_bytes())

    ensure_certificates(tmp_path / "one")

    _handshake(files, "localhost")
