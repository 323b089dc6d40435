"""A real session manager on 127.0.0.1:0 running in a background event-loop thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from flamepy.proto import extensions_pb2_grpc, frontend_pb2_grpc
from session_manager.config import ServerConfig
from session_manager.server import SessionManager
from tests.session_manager.fake_node import FakeNode
from tests.support import channel, drop_tokens, serve_tokens


class ServerThread:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.loop = asyncio.new_event_loop()
        self.sm = SessionManager(config)
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> ServerThread:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self.sm.start(), self.loop).result(10)
        self.target = f"127.0.0.1:{self.port}"
        if self.config.auth == "token" and self.config.tokens_dir:
            self.tokens = serve_tokens(self.target, self.config.tokens_dir)
        return self

    def stop(self) -> None:
        drop_tokens(self.target)
        asyncio.run_coroutine_threadsafe(self.sm.stop(grace=0), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator:
    started: list[ServerThread] = []

    def start(storage: str = "sqlite", port: int = 0, **settings: object) -> ServerThread:
        config = ServerConfig(port=port, storage=storage, data_dir=str(tmp_path / "data"), **settings)  # type: ignore[arg-type]
        srv = ServerThread(config).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        if srv.loop.is_running():
            srv.stop()


@pytest.fixture
def server(start_server) -> ServerThread:
    return start_server()


@pytest.fixture
def stubs(server: ServerThread) -> Iterator[tuple]:
    ch = channel(server.target)
    yield frontend_pb2_grpc.FrontendStub(ch), extensions_pb2_grpc.FrontendExtStub(ch)
    ch.close()


@pytest.fixture
def fake_node(server: ServerThread) -> Iterator[FakeNode]:
    node = FakeNode(server.target).start()
    yield node
    node.stop()
