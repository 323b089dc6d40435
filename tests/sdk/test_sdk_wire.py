"""The gRPC transport on the wire: a real session manager in-process (with a scripted node), the
same one serving only plain flame.v1 (no FrontendExt), and bare gRPC servers for error statuses."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest

import flamepy
from flamepy import client
from flamepy.proto import frontend_pb2_grpc
from session_manager.config import ServerConfig
from session_manager.frontend import FrontendServicer
from tests.session_manager.conftest import ServerThread
from tests.session_manager.fake_node import FakeNode


@pytest.fixture
def sm(tmp_path: Path) -> Iterator[ServerThread]:
    srv = ServerThread(ServerConfig(port=0, storage="sqlite", data_dir=str(tmp_path / "data"))).start()
    node = FakeNode(srv.target).start()
    yield srv
    node.stop()
    srv.stop()


@pytest.fixture
def plain_endpoint(sm: ServerThread) -> Iterator[str]:
    """The same session manager behind a gRPC server with only flame.v1 Frontend."""

    async def start() -> tuple[grpc.aio.Server, int]:
        server = grpc.aio.server()
        frontend_pb2_grpc.add_FrontendServicer_to_server(FrontendServicer(sm.sm.broker), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        return server, port

    server, port = asyncio.run_coroutine_threadsafe(start(), sm.loop).result(10)
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(server.stop(0), sm.loop).result(10)


def _session(conn: flamepy.Connection, sid: str = "s1") -> flamepy.Session:
    return conn.create_session(flamepy.SessionAttributes(application="flmping", id=sid))


def test_invoke_and_run_over_frontend_ext(sm: ServerThread) -> None:
    with flamepy.Connection(f"http://{sm.target}", local_pipe=False) as conn:
        ssn = _session(conn)
        assert conn.ext_supported is None
        assert ssn.invoke(b"hello") == b"hello"
        assert conn.ext_supported is True
        futures_ = [ssn.run(str(i).encode()) for i in range(300)] + [ssn.run(b"fail")]
        assert [f.result(timeout=30) for f in futures_[:-1]] == [str(i).encode() for i in range(300)]
        with pytest.raises(flamepy.InternalError, match="boom: service failed"):
            futures_[-1].result(timeout=30)
        ssn.close()


def test_plain_flame_v1_server_gets_the_fallbacks(plain_endpoint: str) -> None:
    """UNIMPLEMENTED for FrontendExt: invoke is CreateTask + WatchTask, run() creates tasks one by
    one and watches each; every later call skips FrontendExt."""
    with flamepy.Connection(plain_endpoint) as conn:
        ssn = _session(conn)
        assert ssn.invoke(b"hello") == b"hello"
        assert conn.ext_supported is False
        with pytest.raises(flamepy.InternalError, match="boom: service failed"):
            ssn.invoke(b"fail")
        futures_ = [ssn.run(str(i).encode()) for i in range(40)] + [ssn.run(b"fail")]
        assert [f.result(timeout=30) for f in futures_[:-1]] == [str(i).encode() for i in range(40)]
        with pytest.raises(flamepy.InternalError, match="boom"):
            futures_[-1].result(timeout=30)
        ssn.close()
    with flamepy.Connection(plain_endpoint) as conn:  # run() first: the watch finds out
        ssn = _session(conn, "s2")
        assert ssn.run(b"x").result(timeout=30) == b"x"
        assert conn.ext_supported is False


def test_session_errors_come_from_the_server(sm: ServerThread) -> None:
    with flamepy.Connection(f"http://{sm.target}") as conn:
        with pytest.raises(flamepy.NotFoundError, match="not found"):
            conn.get_session("nope")
        ssn = _session(conn)
        ssn.close()
        with pytest.raises(flamepy.InvalidStateError, match="not open"):
            ssn.create_task(b"x")
        with pytest.raises(flamepy.InvalidStateError):
            ssn.invoke(b"x")


@pytest.fixture
def default_endpoint(sm: ServerThread, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    monkeypatch.setenv("FLAME_CONFIG", str(tmp_path / "none.yaml"))
    monkeypatch.setenv("FLAME_ENDPOINT", f"http://{sm.target}")
    client.reset_default_connection()
    yield f"http://{sm.target}"
    client.reset_default_connection()


def test_default_connection_helpers(default_endpoint: str) -> None:
    flamepy.register_application("app", flamepy.ApplicationAttributes(command="true"))
    assert "app" in [a.name for a in flamepy.list_applications()]
    assert flamepy.get_application("app") is not None
    ssn = flamepy.create_session(
        "flmping", common_data=b"cd", session_id="s1", min_instances=1, resreq="cpu=1,mem=512m"
    )
    assert ssn.id == "s1"
    assert ssn.attributes.resreq == flamepy.ResourceRequirement(cpu=1, memory=512 << 20)
    assert flamepy.get_session("s1").common_data() == b"cd"
    assert flamepy.open_session("s1").id == "s1"
    assert [s.id for s in flamepy.list_sessions()] == ["s1"]
    assert flamepy.close_session("s1").state == flamepy.SessionState.CLOSED
    assert flamepy.list_nodes()
    flamepy.unregister_application("app")
    assert flamepy.get_application("app") is None


def test_default_connection_is_shared_and_resettable(default_endpoint: str) -> None:
    seen: list[flamepy.Connection] = []
    with futures.ThreadPoolExecutor(8) as pool:
        seen = list(pool.map(lambda _: client.default_connection(), range(8)))
    assert len({id(c) for c in seen}) == 1
    first = seen[0]
    flamepy.reset_default_connection()
    assert first.closed
    assert client.default_connection() is not first


def _aborting(code: grpc.StatusCode, details: str):
    def handler(request: bytes, context: grpc.ServicerContext) -> bytes:
        context.abort(code, details)
        raise AssertionError("abort raises")

    return grpc.unary_unary_rpc_method_handler(handler)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (grpc.StatusCode.FAILED_PRECONDITION, flamepy.InvalidStateError),
        (grpc.StatusCode.INTERNAL, flamepy.InternalError),
    ],
)
def test_server_statuses_map_through_the_transport(code: grpc.StatusCode, expected: type) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(2))
    methods = {"ListApplication": _aborting(code, "not ready")}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("flame.v1.Frontend", methods),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with flamepy.connect(f"http://127.0.0.1:{port}") as conn, pytest.raises(expected, match="not ready"):
            conn.list_applications()
    finally:
        server.stop(0).wait()


def test_unreachable_server_is_unavailable() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(1))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    server.stop(0).wait()
    with flamepy.connect(f"http://127.0.0.1:{port}") as conn, pytest.raises(flamepy.UnavailableError):
        conn.list_applications()
