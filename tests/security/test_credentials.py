"""The shared layer's credentials, without a network: which token may call what, how tokens are
made, kept and read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flamepy.common import credentials
from flamepy.common.grpc_auth import MISSING, NODE_ONLY, WRONG, presented_token, refusal, server_tokens
from flamepy.errors import InvalidConfigError

TOKENS = credentials.ClusterTokens(client="c" * 43, node="n" * 43)
FRONTEND = "/flame.v1.Frontend/CreateSession"
EXT = "/flamepy.v1.FrontendExt/GetLocalEndpoint"
CACHE = "/flamepy.cache.v1.ObjectCache/GetHandover"
BACKEND = "/flamepy.v1.Backend/Attach"


@pytest.mark.parametrize(
    ("method", "token", "expected"),
    [
        (FRONTEND, None, MISSING),
        (FRONTEND, "x", WRONG),
        (FRONTEND, TOKENS.client, None),
        (FRONTEND, TOKENS.node, None),
        (EXT, TOKENS.client, None),
        (CACHE, None, MISSING),
        (CACHE, TOKENS.client, None),
        (CACHE, TOKENS.node, None),
        (BACKEND, None, NODE_ONLY),
        (BACKEND, TOKENS.client, NODE_ONLY),
        (BACKEND, "x", WRONG),
        (BACKEND, TOKENS.node, None),
    ],
)
def test_roles(method: str, token: str | None, expected: str | None) -> None:
    assert refusal(TOKENS, method, token) == expected


def test_the_bearer_token_is_read_from_the_metadata() -> None:
    assert presented_token([("authorization", "Bearer abc")]) == "abc"
    assert presented_token([("authorization", "bearer abc ")]) == "abc"
    assert presented_token([("authorization", "Basic abc")]) is None
    assert presented_token([("x-other", "Bearer abc")]) is None
    assert presented_token(None) is None
    assert repr(TOKENS).count("c" * 43) == 0  # never printed


def test_tokens_are_made_once_owner_only_and_kept(tmp_path: Path) -> None:
    auth = tmp_path / "auth"
    first = credentials.ensure_tokens(auth)
    assert first.client != first.node and len(first.client) >= 40
    assert os.stat(auth).st_mode & 0o777 == 0o700
    for name in ("client.token", "node.token"):
        assert os.stat(auth / name).st_mode & 0o777 == 0o600
    (auth / "client.token").chmod(0o644)
    auth.chmod(0o755)
    assert credentials.ensure_tokens(auth) == first  # the same tokens; the modes are fixed
    assert os.stat(auth).st_mode & 0o777 == 0o700
    assert os.stat(auth / "client.token").st_mode & 0o777 == 0o600


def test_an_empty_token_file_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "auth").mkdir()
    (tmp_path / "auth" / "node.token").write_text("\n")
    with pytest.raises(InvalidConfigError, match="node.token is empty"):
        credentials.ensure_tokens(tmp_path / "auth")


def test_server_tokens_need_a_directory_for_token_auth(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfigError, match="--auth-dir"):
        server_tokens("token", None, "session manager")
    assert server_tokens("none", None, "session manager") is None
    assert server_tokens("token", str(tmp_path), "object cache") is not None


def test_calls_to_made_up_methods_keep_nothing_per_name() -> None:
    """A stranger inventing method names gets UNIMPLEMENTED and leaves no refusal behind for each."""
    import asyncio
    from types import SimpleNamespace

    import grpc

    from flamepy.common.grpc_auth import AuthInterceptor

    interceptor = AuthInterceptor(credentials.ClusterTokens(client="c" * 43, node="n" * 43))
    known = grpc.unary_unary_rpc_method_handler(lambda req, ctx: req)

    async def continuation(details: object) -> grpc.RpcMethodHandler | None:
        return known if details.method == "/flame.v1.Frontend/ListApplication" else None  # type: ignore[attr-defined]

    async def call(method: str) -> grpc.RpcMethodHandler | None:
        details = SimpleNamespace(method=method, invocation_metadata=())
        return await interceptor.intercept_service(continuation, details)  # type: ignore[arg-type]

    async def scenario() -> None:
        for i in range(1000):
            assert await call(f"/made.up/M{i}") is None
        refused = await call("/flame.v1.Frontend/ListApplication")
        assert refused is not None and refused is not known
        assert len(interceptor._refusers) == 1

    asyncio.run(scenario())
