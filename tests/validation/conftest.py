"""Real servers on 127.0.0.1:0 for the bad-input tests, and raw ways to talk to them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from flamepy.proto import backend_pb2_grpc, extensions_pb2_grpc, frontend_pb2_grpc
from session_manager.config import ServerConfig
from session_manager.limits import Limits
from tests.cache.cache_testkit import CacheServerThread
from tests.session_manager.conftest import ServerThread
from tests.support import channel


class Clients:
    """Raw stubs on one channel, plus ``raw(method)`` for sending bytes no stub would build."""

    def __init__(self, target: str) -> None:
        self.channel = channel(target, "node")  # the node token: Frontend, FrontendExt and Backend
        self.fe = frontend_pb2_grpc.FrontendStub(self.channel)
        self.ext = extensions_pb2_grpc.FrontendExtStub(self.channel)
        self.be = backend_pb2_grpc.BackendStub(self.channel)

    def raw(self, method: str) -> grpc.UnaryUnaryMultiCallable:
        return self.channel.unary_unary(method, request_serializer=None, response_deserializer=None)

    def close(self) -> None:
        self.channel.close()


@pytest.fixture
def start_sm(tmp_path: Path) -> Iterator[Callable[..., ServerThread]]:
    started: list[ServerThread] = []

    def start(limits: Limits | None = None, **config: object) -> ServerThread:
        cfg = ServerConfig(port=0, storage="sqlite", data_dir=str(tmp_path / f"data{len(started)}"), **config)
        if limits is not None:
            cfg = ServerConfig(**{**cfg.__dict__, "limits": limits})
        srv = ServerThread(cfg).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        if srv.loop.is_running():
            srv.stop()


@pytest.fixture
def sm(start_sm) -> ServerThread:
    return start_sm()


@pytest.fixture
def clients(sm: ServerThread) -> Iterator[Clients]:
    c = Clients(sm.target)
    yield c
    c.close()


@pytest.fixture
def cache() -> Iterator[CacheServerThread]:
    srv = CacheServerThread().start()
    yield srv
    srv.stop()


def rpc_error(fn: Callable[[], object]) -> grpc.RpcError:
    """The error ``fn`` raised (it must raise one)."""
    with pytest.raises(grpc.RpcError) as info:
        fn()
    return info.value
