"""TLS settings of a client connection (``https://`` endpoints)."""

from __future__ import annotations

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
