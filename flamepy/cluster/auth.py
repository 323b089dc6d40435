"""The credentials of a local cluster: its auth directory, the flags its daemons get, and the
entries it keeps in this user's credential registry (``~/.flame/credentials/``) while it runs.

With token auth (the default) the tokens are made in ``<data_dir>/auth`` before any daemon starts;
the session manager and the object cache check them, the executor manager joins with the node
token, and the client token is recorded for the session manager's and the cache's endpoints so
that the SDK and ``flmctl`` on this machine find it. ``none`` starts the daemons with
``--auth none`` (independent Flame clients on a trusted host; docs/security.md).

Concurrency model: synchronous file operations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flamepy.common import credentials
from flamepy.common.credentials import AUTH_MODES, AUTH_NONE, AUTH_TOKEN, ClusterTokens
from flamepy.config import parse_endpoint
from flamepy.errors import InvalidArgumentError, InvalidConfigError, InvalidStateError

AUTH_DIR = "auth"


@dataclass(frozen=True)
class ClusterAuth:
    mode: str
    auth_dir: Path

    @classmethod
    def of(cls, mode: str, data_dir: Path) -> ClusterAuth:
        if mode not in AUTH_MODES:
            raise InvalidArgumentError(f"auth must be one of {', '.join(AUTH_MODES)}, got {mode!r}")
        return cls(mode, data_dir / AUTH_DIR)

    @property
    def enabled(self) -> bool:
        return self.mode == AUTH_TOKEN

    def tokens(self) -> ClusterTokens:
        """The cluster's tokens, created (0600 in a 0700 directory) when absent."""
        if not self.enabled:
            raise InvalidStateError("this local cluster runs with --auth none: it has no tokens")
        return credentials.ensure_tokens(self.auth_dir)

    @property
    def node_token_file(self) -> Path:
        return self.auth_dir / credentials.NODE_TOKEN_FILE

    @property
    def client_token_file(self) -> Path:
        return self.auth_dir / credentials.CLIENT_TOKEN_FILE

    def server_args(self) -> list[str]:
        """The session manager's and the object cache's auth flags."""
        if not self.enabled:
            return ["--auth", AUTH_NONE]
        return ["--auth", AUTH_TOKEN, "--auth-dir", str(self.auth_dir)]

    def executor_args(self) -> list[str]:
        return ["--token-file", str(self.node_token_file)] if self.enabled else []

    def client_token(self) -> str | None:
        return self.tokens().client if self.enabled else None

    def remember(self, *endpoints: str) -> None:
        """Record the client token in this user's registry for each endpoint."""
        token = self.client_token()
        if token is None:
            return
        for endpoint in endpoints:
            credentials.remember(parse_endpoint(endpoint).target, token)

    def forget(self, *endpoints: str) -> None:
        """Drop the registry entries of ``endpoints`` that hold this cluster's token (an entry
        another cluster wrote since, on a reused port, is left alone)."""
        try:
            token = credentials.read_token_file(self.client_token_file)
        except InvalidConfigError:  # no tokens (auth none, or removed): nothing of ours to drop
            return
        for endpoint in endpoints:
            target = parse_endpoint(endpoint).target
            held = credentials.recall(target)
            if held is not None and credentials.same_token(held, token):
                credentials.forget(target)
