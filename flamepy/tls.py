"""TLS settings of a client connection (``https://`` endpoints), and the servers' credentials
(``--tls-cert`` / ``--tls-key`` / ``--tls-client-ca`` of the session manager and the object cache)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import grpc

from flamepy.errors import InvalidConfigError


@dataclass(frozen=True)
class TlsConfig:
    """PEM files: the CA that signed the server's certificate, and an optional client identity."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


def _read(path: str | None, what: str) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise InvalidConfigError(f"cannot read TLS {what} {path!r}: {exc}") from exc


def channel_credentials(config: TlsConfig | str | None, default_ca: str | None) -> grpc.ChannelCredentials:
    """gRPC credentials from ``config`` (a TlsConfig or a CA path) or the configured CA file.

    With no CA at all the system's trust roots are used.
    """
    if isinstance(config, str):
        config = TlsConfig(ca_file=config)
    config = config or TlsConfig()
    if (config.cert_file is None) != (config.key_file is None):
        raise InvalidConfigError("TLS client identity needs both cert_file and key_file")
    return grpc.ssl_channel_credentials(
        root_certificates=_read(config.ca_file or default_ca, "CA file"),
        private_key=_read(config.key_file, "key file"),
        certificate_chain=_read(config.cert_file, "certificate file"),
    )


@dataclass(frozen=True)
class ServerTlsConfig:
    """PEM files of a server: its certificate chain and private key, and optionally the CA whose
    client certificates it requires (mutual TLS)."""

    cert_file: str
    key_file: str
    client_ca_file: str | None = None


def server_tls(cert: str | None, key: str | None, client_ca: str | None = None) -> ServerTlsConfig | None:
    """The settings of ``--tls-cert``/``--tls-key``/``--tls-client-ca``: None when TLS is off;
    InvalidConfigError when only one of the pair, or a client CA without them, is given."""
    if cert is None and key is None:
        if client_ca is not None:
            raise InvalidConfigError("--tls-client-ca needs --tls-cert and --tls-key")
        return None
    if cert is None or key is None:
        raise InvalidConfigError("TLS needs both --tls-cert and --tls-key")
    config = ServerTlsConfig(cert, key, client_ca)
    server_credentials(config)  # unreadable files: a start error now, not on the first connection
    return config


def server_credentials(config: ServerTlsConfig) -> grpc.ServerCredentials:
    key = _read(config.key_file, "key file")
    cert = _read(config.cert_file, "certificate file")
    assert key is not None and cert is not None
    client_ca = _read(config.client_ca_file, "client CA file")
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def add_tls_args(parser: argparse.ArgumentParser) -> None:
    """``--tls-cert``, ``--tls-key``, ``--tls-client-ca`` of a server (read with :func:`server_tls`)."""
    parser.add_argument(
        "--tls-cert", metavar="PEM", help="serve TLS with this certificate chain (needs --tls-key)"
    )
    parser.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    parser.add_argument(
        "--tls-client-ca",
        metavar="PEM",
        help="require client certificates signed by this CA (mutual TLS; needs --tls-cert/--tls-key)",
    )
