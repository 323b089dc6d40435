"""Client configuration: ``~/.flame/flame.yaml`` overridden by environment variables.

File format (see ``flame.yaml.example``)::

    current-context: flame
    contexts:
      - name: flame
        cluster: {endpoint: "http://127.0.0.1:8080", ca_file: null, token_file: null}
        cache: {endpoint: "grpc://127.0.0.1:9090", storage: null}
        package: {excludes: ["*.log"], storage: null}
        runner: {template: flmrun}

``cluster.tls.ca_file`` (flamepy 0.6.0's spelling) is read like ``cluster.ca_file``.
``cluster.token_file`` names the file holding the cluster's client token (used when neither
FLAME_TOKEN nor FLAME_TOKEN_FILE is set; see :mod:`flamepy.transport.auth`).

Environment overrides: FLAME_ENDPOINT, FLAME_CACHE_ENDPOINT, FLAME_CACHE_STORAGE, FLAME_CA_FILE;
FLAME_CONFIG points at another file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import yaml

from flamepy.errors import InvalidConfigError

DEFAULT_ENDPOINT = "http://127.0.0.1:8080"
DEFAULT_CACHE_ENDPOINT = "grpc://127.0.0.1:9090"
DEFAULT_PORT = 8080
DEFAULT_CONFIG_PATH = Path("~/.flame/flame.yaml")


@dataclass(frozen=True)
class FlameContext:
    name: str = "flame"
    endpoint: str = DEFAULT_ENDPOINT
    cache_endpoint: str = DEFAULT_CACHE_ENDPOINT
    cache_storage: str | None = None
    ca_file: str | None = None
    token_file: str | None = None
    package_excludes: tuple[str, ...] = field(default_factory=tuple)
    package_storage: str | None = None
    runner_template: str | None = None


@dataclass(frozen=True)
class Endpoint:
    """A parsed ``scheme://host:port`` address."""

    host: str
    port: int
    tls: bool

    @property
    def target(self) -> str:
        """``host:port`` for gRPC (an IPv6 address in brackets)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_endpoint(addr: str, default_port: int = DEFAULT_PORT) -> Endpoint:
    """``http://h:p`` → plaintext, ``https://h:p`` → TLS; ``grpc://`` and a bare ``h:p`` are plaintext."""
    if not isinstance(addr, str) or not addr.strip():
        raise InvalidConfigError(f"invalid endpoint {addr!r}: expected http://host:port")
    text = addr.strip()
    if "://" not in text:
        text = "http://" + text
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https", "grpc", "grpcs"):
        raise InvalidConfigError(f"invalid endpoint {addr!r}: scheme must be http, https or grpc")
    if not parsed.hostname:
        raise InvalidConfigError(f"invalid endpoint {addr!r}: no host")
    try:
        port = parsed.port or default_port
    except ValueError:
        raise InvalidConfigError(f"invalid endpoint {addr!r}: bad port") from None
    return Endpoint(host=parsed.hostname, port=port, tls=parsed.scheme in ("https", "grpcs"))


def load_context(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> FlameContext:
    """The current context of the config file (if any) with environment overrides applied."""
    env = os.environ if env is None else env
    file = Path(path or env.get("FLAME_CONFIG") or DEFAULT_CONFIG_PATH).expanduser()
    ctx = _context_from_file(file) if file.exists() else FlameContext()
    overrides = {
        "endpoint": env.get("FLAME_ENDPOINT"),
        "cache_endpoint": env.get("FLAME_CACHE_ENDPOINT"),
        "cache_storage": env.get("FLAME_CACHE_STORAGE"),
        "ca_file": env.get("FLAME_CA_FILE"),
    }
    values = {**ctx.__dict__, **{k: v for k, v in overrides.items() if v}}
    return FlameContext(**values)


def _context_from_file(file: Path) -> FlameContext:
    try:
        doc = yaml.safe_load(file.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidConfigError(f"cannot read config {file}: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidConfigError(f"config {file} must be a mapping")
    contexts = doc.get("contexts") or []
    current = doc.get("current-context")
    chosen = next((c for c in contexts if isinstance(c, dict) and c.get("name") == current), None)
    if chosen is None:
        if current is not None:
            raise InvalidConfigError(f"config {file}: current-context {current!r} not found in contexts")
        chosen = contexts[0] if contexts else {}
    cluster = chosen.get("cluster") or {}
    cache = chosen.get("cache") or {}
    package = chosen.get("package") or {}
    runner = chosen.get("runner") or {}
    tls = cluster.get("tls") or {}
    return FlameContext(
        name=str(chosen.get("name", "flame")),
        endpoint=str(cluster.get("endpoint") or DEFAULT_ENDPOINT),
        cache_endpoint=str(cache.get("endpoint") or DEFAULT_CACHE_ENDPOINT),
        cache_storage=cache.get("storage"),
        ca_file=cluster.get("ca_file") or tls.get("ca_file"),
        token_file=cluster.get("token_file"),
        package_excludes=tuple(str(x) for x in package.get("excludes") or ()),
        package_storage=package.get("storage"),
        runner_template=runner.get("template"),
    )
