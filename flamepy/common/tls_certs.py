"""Self-signed TLS material for a cluster on this machine (``LocalCluster(tls=True)``,
``flmctl cluster up --tls``): a CA and one server certificate it signs, valid for 127.0.0.1, ::1,
localhost and this host's name.

Files are written owner-only (0600) in an owner-only directory (0700):

* ``ca.pem``     — the CA certificate: what clients trust (``FLAME_CA_FILE``, ``ca_file``);
* ``server.pem`` / ``server.key`` — the servers' certificate chain and private key
  (``--tls-cert`` / ``--tls-key`` of the session manager and the object cache);
* ``client.pem`` / ``client.key`` (only with ``client=True``) — a client certificate from the same
  CA, for servers that require one (``--tls-client-ca ca.pem``: mutual TLS).

The CA's private key is not kept: nothing else is ever signed with it. Synchronous; a few
milliseconds (EC P-256 keys).
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from flamepy.common.private_files import make_private_dir, write_private

CA_FILE, CERT_FILE, KEY_FILE = "ca.pem", "server.pem", "server.key"
CLIENT_CERT_FILE, CLIENT_KEY_FILE = "client.pem", "client.key"
VALID_DAYS = 365


@dataclass(frozen=True)
class ServerTls:
    """Where one cluster's TLS files are."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def tls_files(directory: str | Path) -> ServerTls:
    d = Path(directory)
    return ServerTls(d / CA_FILE, d / CERT_FILE, d / KEY_FILE)


def ensure_server_tls(directory: str | Path, hostnames: tuple[str, ...] = ()) -> ServerTls:
    """The TLS files in ``directory``, made (CA + server certificate) unless all three exist and
    the certificate names every one of ``hostnames`` (a new CA then: nodes must copy it again)."""
    files = tls_files(directory)
    present = all(p.exists() for p in (files.ca_file, files.cert_file, files.key_file))
    if present and set(hostnames) <= set(certificate_names(files.cert_file)):
        return files
    write_server_tls(directory, hostnames)
    return files


def certificate_names(cert_file: str | Path) -> list[str]:
    """The DNS names and IP addresses (as text) in a certificate's subject alternative names."""
    cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return [*san.get_values_for_type(x509.DNSName), *ips]


def write_server_tls(
    directory: str | Path, hostnames: tuple[str, ...] = (), client: bool = False
) -> ServerTls:
    """A new CA and a server certificate signed by it, for the loopback addresses, ``localhost``,
    this host's name and ``hostnames`` (and a client certificate with ``client``); written to
    ``directory`` (made 0700), each file 0600."""
    d = make_private_dir(Path(directory))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Flame local CA")])
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key, cert = _leaf("flame", ca_name, ca_key, ExtendedKeyUsageOID.SERVER_AUTH, _subject_names(hostnames))
    files = tls_files(d)
    write_private(files.ca_file, ca_cert.public_bytes(serialization.Encoding.PEM))
    _write_pair(files.cert_file, files.key_file, cert, key)
    if client:
        ckey, ccert = _leaf("flame-client", ca_name, ca_key, ExtendedKeyUsageOID.CLIENT_AUTH, None)
        _write_pair(d / CLIENT_CERT_FILE, d / CLIENT_KEY_FILE, ccert, ckey)
    return files


def _leaf(
    common_name: str,
    ca_name: x509.Name,
    ca_key: ec.EllipticCurvePrivateKey,
    usage: x509.ObjectIdentifier,
    names: list[x509.GeneralName] | None,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A new key and its certificate for ``usage`` (server or client auth), signed by the CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        _builder(subject, ca_name, key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _write_pair(
    cert_path: Path, key_path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> None:
    pem = serialization.Encoding.PEM
    write_private(cert_path, cert.public_bytes(pem))
    write_private(
        key_path, key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
    )


def _key_usage(ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _subject_names(extra: tuple[str, ...]) -> list[x509.GeneralName]:
    dns = ["localhost", socket.gethostname(), *extra]
    names: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    for name in dict.fromkeys(n for n in dns if n and n not in ("127.0.0.1", "::1")):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            names.append(x509.DNSName(name))
    return names

