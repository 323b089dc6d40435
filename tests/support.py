"""Test helpers shared by every layer."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import grpc

from flamepy.common import credentials
from flamepy.common.credentials import ClusterTokens
from flamepy.transport.auth import with_token

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.02) -> T:
    """The one bounded poll helper: return the first truthy value of ``predicate`` or fail."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


# -- credentials of in-process test servers --------------------------------------------------------
# A test server with token auth (the default) records its client token in this user's credential
# registry, as `flmctl cluster up` does, so SDK clients in tests find it the way users' do; raw
# channels and fake nodes ask here for the tokens of a target.

_TOKENS: dict[str, ClusterTokens] = {}


def serve_tokens(target: str, auth_dir: str | Path) -> ClusterTokens:
    """Make (or read) the tokens in ``auth_dir`` and register them for ``target`` (host:port)."""
    tokens = credentials.ensure_tokens(auth_dir)
    credentials.remember(target, tokens.client)
    _TOKENS[target] = tokens
    return tokens


def drop_tokens(target: str) -> None:
    if _TOKENS.pop(target, None) is not None:
        credentials.forget(target)


def tokens_of(target: str) -> ClusterTokens | None:
    return _TOKENS.get(target.split("://", 1)[-1])


def token_of(target: str, role: str = "client") -> str | None:
    """The ``client`` (or ``node``) token of ``target`` (an in-process test server's; else, for the
    client role, this user's registry entry, which a LocalCluster writes); None when it has none."""
    tokens = tokens_of(target)
    if tokens is not None:
        return tokens.node if role == "node" else tokens.client
    return credentials.recall(target.split("://", 1)[-1]) if role == "client" else None


def channel(target: str, role: str = "client") -> grpc.Channel:
    """A raw channel to ``target`` presenting its ``client`` (or ``node``) token, if it has one."""
    ch = grpc.insecure_channel(target.split("://", 1)[-1])
    token = token_of(target, role)
    return ch if token is None else with_token(ch, token)
