"""A local certificate authority and a server certificate for ``make run``'s HTTPS port.

AWS SDKs send a bearer token (``AWS_BEARER_TOKEN_BEDROCK``) only over HTTPS, so the local stack
serves HTTPS too, with a certificate from a CA made on this machine the first time and reused after:
``AWS_CA_BUNDLE=<dir>/ca.pem`` makes an SDK trust it. Nothing here is ever committed (``.local/``);
deleting the folder makes a new CA.

The certificates satisfy strict verifiers (OpenSSL's X509_V_FLAG_X509_STRICT, which Python 3.13's
default context sets; macOS's limits on server certificate lifetimes).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "Bedrock Gateway local development CA"
SERVER_NAME = "Bedrock Gateway local development server"
#: Always in the server certificate; the host make run binds to is added when it is another one.
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
CA_DAYS = 3650
# Under Apple's 398 days for server certificates (825 for CAs a user added), backdating included.
SERVER_DAYS = 365
RENEW_WITHIN = datetime.timedelta(days=30)
# Clocks of a VM or a container can lag the host's a little.
BACKDATE = datetime.timedelta(hours=1)


@dataclass(frozen=True)
class LocalCertificates:
    """Where the files are: ``ca`` is what clients trust; ``server``/``server_key`` go to the server."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca-key.pem"

    @property
    def server(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server-key.pem"


def ensure_certificates(
    directory: str | os.PathLike[str],
    hosts: Iterable[str] = (),
    *,
    now: datetime.datetime | None = None,
) -> LocalCertificates:
    """The CA and a server certificate for ``localhost``, ``127.0.0.1``, ``::1`` and ``hosts``.

    Made on first use and reused after. The server certificate is issued again (by the same CA)
    when it expires within 30 days, lacks one of the hosts or no longer matches its key or the CA;
    everything is made again when the CA's files cannot be read or the CA itself is about to expire.
    """
    files = LocalCertificates(Path(directory).resolve())
    now = now or datetime.datetime.now(datetime.UTC)
    wanted = _unique([*DEFAULT_HOSTS, *hosts])
    files.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    authority = _load_ca(files, now)
    if authority is None:
        authority = _create_ca(files, now)
        _issue_server(files, authority, wanted, now)
    elif not _server_is_usable(files, authority[0], wanted, now):
        _issue_server(files, authority, wanted, now)
    return files


def _unique(hosts: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for host in hosts:
        seen.setdefault(host.strip().lower().strip("[]"), None)
    return [host for host in seen if host]


def _load_ca(
    files: LocalCertificates, now: datetime.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        cert = x509.load_pem_x509_certificate(files.ca.read_bytes())
        key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        return None
    if cert.not_valid_after_utc - now < RENEW_WITHIN or cert.not_valid_before_utc > now:
        return None
    return cert, key


def _server_is_usable(
    files: LocalCertificates, ca: x509.Certificate, hosts: list[str], now: datetime.datetime
) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(files.server.read_bytes())
        key = serialization.load_pem_private_key(files.server_key.read_bytes(), password=None)
        cert.verify_directly_issued_by(ca)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature):
        return False
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        return False
    if cert.not_valid_after_utc - now < RENEW_WITHIN or cert.not_valid_before_utc > now:
        return False
    present = set(names) if names else set()
    return all(_general_name(host) in present for host in hosts)


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _create_ca(
    files: LocalCertificates, now: datetime.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Bedrock Gateway (local development)"),
            x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
        ]
    )
    identifier = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(identifier, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(identifier), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    # The certificate last: a half-written pair is never taken for a valid one.
    _write(files.ca_key, _private_bytes(key), private=True)
    _write(files.ca, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _issue_server(
    files: LocalCertificates,
    authority: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    hosts: list[str],
    now: datetime.datetime,
) -> None:
    ca, ca_key = authority
    key = ec.generate_private_key(ec.SECP256R1())
    ca_identifier = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        # Never past the CA: a verifier refuses a chain where the CA expires first.
        .not_valid_after(min(now + datetime.timedelta(days=SERVER_DAYS), ca.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            # An EC key signs (ECDHE); keyEncipherment is for RSA key transport only (RFC 5480).
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_general_name(h) for h in hosts]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_identifier), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write(files.server_key, _private_bytes(key), private=True)
    _write(files.server, cert.public_bytes(serialization.Encoding.PEM))


def _private_bytes(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Replace ``path`` at once (a reader never sees half a file); 0600 for a private key from the start."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        if not private:
            os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
