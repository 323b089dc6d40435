"""The cluster's two secrets and where they live: shared by the servers, the SDK and the CLI.

A cluster has a **client token** (may use Frontend, FrontendExt and the object cache) and a
**node token** (may also attach executor managers, ``Backend``). Both are random
(``secrets.token_urlsafe(32)``), kept in the cluster's auth directory (0700) as ``client.token``
and ``node.token`` (0600), created when absent. On the wire a token travels as the gRPC metadata
``authorization: Bearer <token>``.

The per-user credential registry ``~/.flame/credentials/`` (0700; one 0600 file per endpoint,
named ``<host>_<port>``) holds the client token of each cluster this user started, so the SDK and
``flmctl`` find it without configuration.

Concurrency model: synchronous file operations; files are written to a temporary name with their
final mode and renamed, so a reader sees no token or a whole one.
"""

from __future__ import annotations

import hmac
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from flamepy.common.private_files import make_private_dir, write_private
from flamepy.errors import InvalidConfigError

CLIENT_TOKEN_FILE = "client.token"
NODE_TOKEN_FILE = "node.token"
METADATA_KEY = "authorization"
SCHEME = "Bearer "
AUTH_TOKEN = "token"
AUTH_NONE = "none"
AUTH_MODES = (AUTH_TOKEN, AUTH_NONE)
DEFAULT_REGISTRY = Path("~/.flame/credentials")
_MAX_TOKEN_CHARS = 4096
_REGISTRY_NAME = re.compile(r"[^A-Za-z0-9.-]")


@dataclass(frozen=True)
class ClusterTokens:
    """The two secrets of one cluster (never logged: ``repr`` hides them)."""

    client: str
    node: str

    def __repr__(self) -> str:
        return "ClusterTokens(client=<hidden>, node=<hidden>)"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(presented: str, expected: str) -> bool:
    """Constant-time comparison of two tokens."""
    return hmac.compare_digest(presented.encode(), expected.encode())


def metadata(token: str) -> tuple[tuple[str, str], ...]:
    """The gRPC metadata carrying ``token``."""
    return ((METADATA_KEY, SCHEME + token),)


def bearer_of(value: str) -> str | None:
    """The token in an ``authorization`` header value, or None when it is not a bearer token."""
    if value[: len(SCHEME)].lower() != SCHEME.lower():
        return None
    return value[len(SCHEME) :].strip()


def write_secret(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as an owner-only (0600) file, atomically."""
    write_private(path, text + "\n")


def read_token_file(path: str | Path) -> str:
    """The token in ``path`` (surrounding whitespace removed); InvalidConfigError naming the file."""
    file = Path(path).expanduser()
    try:
        text = file.read_text()[:_MAX_TOKEN_CHARS].strip()
    except OSError as exc:
        raise InvalidConfigError(f"cannot read token file {file}: {exc.strerror or exc}") from None
    if not text:
        raise InvalidConfigError(f"token file {file} is empty")
    return text


def _load_or_create(path: Path) -> str:
    try:
        return read_token_file(path)
    except InvalidConfigError:
        if path.exists():
            raise
    write_secret(path, new_token())
    return read_token_file(path)


def ensure_tokens(auth_dir: str | Path) -> ClusterTokens:
    """The cluster's tokens in ``auth_dir`` (0700), each created (0600) when absent."""
    directory = make_private_dir(Path(auth_dir).expanduser())
    for name in (CLIENT_TOKEN_FILE, NODE_TOKEN_FILE):
        file = directory / name
        if file.exists() and stat.S_IMODE(file.stat().st_mode) & 0o077:
            file.chmod(0o600)
    return ClusterTokens(
        client=_load_or_create(directory / CLIENT_TOKEN_FILE),
        node=_load_or_create(directory / NODE_TOKEN_FILE),
    )


# -- the per-user credential registry --------------------------------------------------------------


def registry_dir(home: str | Path | None = None) -> Path:
    return Path(home).expanduser() / ".flame" / "credentials" if home else DEFAULT_REGISTRY.expanduser()


def registry_file(host_port: str, home: str | Path | None = None) -> Path:
    """The registry file of the endpoint ``host:port``."""
    return registry_dir(home) / _REGISTRY_NAME.sub("_", host_port.replace(":", "_"))


def remember(host_port: str, token: str, home: str | Path | None = None) -> Path:
    """Record ``token`` as this user's credential for ``host:port``."""
    make_private_dir(registry_dir(home))
    path = registry_file(host_port, home)
    write_secret(path, token)
    return path


def forget(host_port: str, home: str | Path | None = None) -> None:
    registry_file(host_port, home).unlink(missing_ok=True)


def recall(host_port: str, home: str | Path | None = None) -> str | None:
    """This user's recorded credential for ``host:port``, or None."""
    path = registry_file(host_port, home)
    try:
        return read_token_file(path)
    except InvalidConfigError:
        return None
