"""Where the SDK finds the cluster's token, and the channels that carry it: the one place every
client channel is made (session manager: Frontend, FrontendExt, the local-socket lookup; object
cache).

Resolution order (first found wins): the explicit ``token=`` of the API (``Connection``,
``CacheClient``) → ``FLAME_TOKEN`` → the file named by ``FLAME_TOKEN_FILE`` → the current
context's ``cluster.token_file`` in ``~/.flame/flame.yaml`` → this user's credential registry
``~/.flame/credentials/`` for the endpoint's ``host:port`` (written by ``LocalCluster.start()`` /
``flmctl cluster up``). None found: calls go without a token (a cluster started with
``--auth none`` takes them; one with token auth answers UNAUTHENTICATED, raised as
:class:`~flamepy.errors.AuthenticationError`).

The token is looked up once, when the channel is made; each call then only adds the ready-made
metadata (:class:`_AddMetadata`), so no call reads a file.

Concurrency model: pure functions and an immutable interceptor; thread-safe.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import grpc

from flamepy.common import credentials
from flamepy.config import FlameContext, load_context, parse_endpoint
from flamepy.tls import TlsConfig, channel_credentials

TOKEN_ENV = "FLAME_TOKEN"
TOKEN_FILE_ENV = "FLAME_TOKEN_FILE"
_LOOPBACK = ("localhost", "::1", "[::1]")


def resolve_token(
    endpoint: str,
    token: str | None = None,
    env: Mapping[str, str] | None = None,
    context: FlameContext | None = None,
) -> str | None:
    """The token to present to ``endpoint``, by the order in the module docstring; None if none."""
    if token:
        return token.strip()
    env = os.environ if env is None else env
    if env.get(TOKEN_ENV):
        return env[TOKEN_ENV].strip()
    if env.get(TOKEN_FILE_ENV):
        return credentials.read_token_file(env[TOKEN_FILE_ENV])
    ctx = context if context is not None else load_context(env=env)
    if ctx.token_file:
        return credentials.read_token_file(ctx.token_file)
    parsed = parse_endpoint(endpoint)
    found = credentials.recall(parsed.target)
    if found is None and parsed.host in _LOOPBACK:  # localhost:8080 is the 127.0.0.1:8080 recorded
        found = credentials.recall(f"127.0.0.1:{parsed.port}")
    return found


class _Details(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: Any
    compression: Any


class _AddMetadata(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds fixed metadata (the token, computed once) to every call of a channel."""

    def __init__(self, metadata: Sequence[tuple[str, str]]) -> None:
        self._metadata = tuple(metadata)

    def _details(self, details: Any) -> _Details:
        extra = self._metadata if not details.metadata else (*details.metadata, *self._metadata)
        return _Details(
            details.method,
            details.timeout,
            extra,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Callable[..., Any], details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation: Callable[..., Any], details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)


def with_token(channel: grpc.Channel, token: str) -> grpc.Channel:
    """``channel`` with every call presenting ``token``."""
    return grpc.intercept_channel(channel, _AddMetadata(credentials.metadata(token)))


def open_channel(
    endpoint: str,
    *,
    tls_config: TlsConfig | str | None = None,
    token: str | None = None,
    options: Sequence[tuple[str, Any]] = (),
) -> grpc.Channel:
    """A channel to ``endpoint`` (``http://``/``grpc://`` plaintext, ``https://`` TLS with the
    configured CA) presenting the token :func:`resolve_token` finds."""
    parsed = parse_endpoint(endpoint)
    context = load_context()
    if parsed.tls:
        creds = channel_credentials(tls_config, context.ca_file)
        channel = grpc.secure_channel(parsed.target, creds, options=list(options))
    else:
        channel = grpc.insecure_channel(parsed.target, options=list(options))
    found = resolve_token(endpoint, token, context=context)
    if not found:
        return channel
    return with_token(channel, found)
