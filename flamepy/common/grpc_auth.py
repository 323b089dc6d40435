"""The one place a gRPC server checks who is calling (:class:`AuthInterceptor`).

Roles: the client token may call Frontend (``flame.v1``), FrontendExt and the object cache; the
node token may call those and ``flamepy.v1.Backend`` (executor managers' Attach). A call without a
token, or with another one, is answered UNAUTHENTICATED with a message saying what to do; the
presented token is never echoed or logged. The server's own Unix socket checks its own token
(``session_manager/local.py``).

Concurrency: the interceptor is stateless per call (a few microseconds: one metadata scan and one
constant-time comparison); the refusing handlers are built once per method.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from flamepy.common.credentials import (
    AUTH_MODES,
    AUTH_NONE,
    AUTH_TOKEN,
    METADATA_KEY,
    ClusterTokens,
    bearer_of,
    ensure_tokens,
    same_token,
)
from flamepy.common.grpc_status import DecodeInterceptor
from flamepy.errors import InvalidConfigError

log = logging.getLogger(__name__)

NODE_ONLY_SERVICES = ("/flamepy.v1.Backend/",)

MISSING = (
    "this Flame cluster requires a token: run on a machine where `flmctl cluster up` ran, or set "
    "FLAME_TOKEN (or FLAME_TOKEN_FILE); independent Flame clients need the cluster started with "
    "--auth none"
)
WRONG = (
    "the token presented is not valid for this Flame cluster: use the one in its auth directory "
    "(client.token; node.token for executor managers), e.g. through FLAME_TOKEN_FILE"
)
NODE_ONLY = (
    "only executor managers holding the cluster's node token may attach: pass --token-file with "
    "the node.token of the cluster's auth directory (`flmctl cluster token` prints it)"
)


def presented_token(metadata: Any) -> str | None:
    """The bearer token in a call's invocation metadata, or None."""
    for key, value in metadata or ():
        if key == METADATA_KEY and isinstance(value, str):
            return bearer_of(value)
    return None


def refusal(tokens: ClusterTokens, method: str, token: str | None) -> str | None:
    """Why a call of ``method`` with ``token`` is refused, or None when it may go ahead."""
    node_only = method.startswith(NODE_ONLY_SERVICES)
    if token is None:
        return NODE_ONLY if node_only else MISSING
    if same_token(token, tokens.node):
        return None
    if same_token(token, tokens.client):
        return NODE_ONLY if node_only else None
    return WRONG


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Lets through calls carrying a token their method's role accepts; refuses the others."""

    def __init__(self, tokens: ClusterTokens) -> None:
        self.tokens = tokens
        self._refusers: dict[tuple[str, str], grpc.RpcMethodHandler | None] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        token = presented_token(handler_call_details.invocation_metadata)
        why = refusal(self.tokens, method, token)
        if why is None:
            return await continuation(handler_call_details)
        key = (method, why)
        what = "no token" if token is None else "token not accepted"
        if key in self._refusers:
            log.debug("refused %s: %s", method, what)
            return self._refusers[key]
        handler = await continuation(handler_call_details)
        if handler is None:  # no such method: UNIMPLEMENTED, and nothing kept per made-up name
            return None
        # a warning the first time per method and reason, then debug: no log flood
        log.warning("refused %s: %s (further refusals of it are logged at debug)", method, what)
        self._refusers[key] = _refusing(handler, why)
        return self._refusers[key]


def _refusing(handler: grpc.RpcMethodHandler | None, why: str) -> grpc.RpcMethodHandler | None:
    """A handler of the same kind as ``handler`` that answers UNAUTHENTICATED ``why``."""
    if handler is None:
        return None

    async def refuse(_request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, why)

    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(refuse)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(refuse)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(refuse)
    return grpc.unary_unary_rpc_method_handler(refuse)


def server_tokens(auth: str, auth_dir: str | None, server: str) -> ClusterTokens | None:
    """The tokens a server started with ``--auth auth`` checks (None for ``none``), created in
    ``auth_dir`` when absent; InvalidConfigError when token auth has no directory to keep them."""
    if auth == AUTH_NONE:
        log.warning("%s: --auth none: every caller that reaches the port is trusted", server)
        return None
    if auth != AUTH_TOKEN:
        raise InvalidConfigError(f"{server}: unknown auth mode {auth!r}: use {' or '.join(AUTH_MODES)}")
    if not auth_dir:
        raise InvalidConfigError(
            f"{server}: token auth needs a directory for its tokens: pass --auth-dir DIR "
            "(or a data directory), or --auth none for a cluster without tokens"
        )
    tokens = ensure_tokens(auth_dir)
    log.info("%s: token auth, tokens in %s", server, auth_dir)
    return tokens


def server_interceptors(tokens: ClusterTokens | None) -> list[grpc.aio.ServerInterceptor]:
    """The interceptors every server installs, outermost first: credentials, then decoding."""
    checks: list[grpc.aio.ServerInterceptor] = [AuthInterceptor(tokens)] if tokens is not None else []
    return [*checks, DecodeInterceptor()]
