"""The same-host fast path (flamepy/localpipe.py): RunTask and the executor managers' stream over the
session manager's Unix socket, its refusals, and the SDK's fallbacks to gRPC."""

from __future__ import annotations

import asyncio
import socket
import stat
import threading
from pathlib import Path

import pytest

import flamepy
from flamepy.common import localpipe
from flamepy.common.taskpipe import frame
from flamepy.errors import InternalError, InvalidStateError, UnavailableError
from flamepy.proto import extensions_pb2 as ext
from flamepy.transport.local import LocalRunner
from tests.session_manager.fake_node import FakeNode


def _endpoint(stubs) -> tuple[Path, str]:
    _, es = stubs
    ep = es.GetLocalEndpoint(ext.LocalEndpointRequest())
    return Path(ep.path), ep.token


def _raw_hello(path: Path, payload: bytes) -> bytes:
    """What the server answers a first frame of ``payload``, and that it then hangs up."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(frame(payload))
        data = b""
        while chunk := sock.recv(4096):
            data += chunk
    return data[4:]


def test_local_endpoint_is_an_owner_only_socket(stubs) -> None:
    path, token = _endpoint(stubs)
    assert path.is_socket() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(token) == 32


def test_hellos_with_a_wrong_token_version_or_role_are_refused(stubs) -> None:
    path, token = _endpoint(stubs)
    assert _raw_hello(path, f"{localpipe.VERSION} client nottoken".encode()).startswith(b"error wrong token")
    assert _raw_hello(path, f"flame-local/9 client {token}".encode()).startswith(b"error not a")
    assert _raw_hello(path, f"{localpipe.VERSION} admin {token}".encode()).startswith(b"error unknown role")


def test_invoke_goes_over_the_local_socket_and_reads_like_grpc(server, fake_node: FakeNode) -> None:
    endpoint = f"http://{server.target}"
    with flamepy.Connection(endpoint) as local, flamepy.Connection(endpoint, local_pipe=False) as remote:
        ssn = local.create_session(flamepy.SessionAttributes(application="flmping", id="s1"))
        assert ssn.invoke(b"hello") == b"hello"
        assert isinstance(local.transport.local_runner, LocalRunner)
        same = remote.open_session("s1")
        assert same.invoke(b"hello") == b"hello" and remote.transport.local_runner is False
        for conn in (local, remote):
            with pytest.raises(InternalError, match="failed: boom: service failed"):
                conn.open_session("s1").invoke(b"fail")
        closed = local.create_session(flamepy.SessionAttributes(application="flmping", id="s2"))
        closed.close()
        with pytest.raises(InvalidStateError, match="session 's2' is not open"):
            closed.invoke(b"x")  # the server's error, status and message, as over gRPC
        status = local.get_session("s1").status
        assert (status.succeed, status.failed) == (2, 2)


def test_sdk_falls_back_to_grpc_when_the_local_socket_goes_away(server, fake_node: FakeNode) -> None:
    with flamepy.Connection(f"http://{server.target}") as conn:
        ssn = conn.create_session(flamepy.SessionAttributes(application="flmping", id="s1"))
        assert ssn.invoke(b"1") == b"1"
        runner = conn.transport.local_runner
        assert isinstance(runner, LocalRunner)
        asyncio.run_coroutine_threadsafe(server.sm.local.stop(), server.loop).result(10)
        assert not runner.path.exists()
        assert ssn.invoke(b"2") == b"2"  # the idle connection is seen closed; nothing sent: gRPC
        assert ssn.invoke(b"3") == b"3" and conn.transport.local_runner is False  # looked again: not offered now


def test_a_connection_broken_mid_call_raises_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "sm.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def accept_greet_and_hang_up() -> None:
        conn, _ = listener.accept()
        conn.recv(4096)  # the hello
        conn.sendall(frame(localpipe.OK))
        conn.recv(4096)  # the request: then the "server" dies
        conn.close()

    t = threading.Thread(target=accept_greet_and_hang_up)
    t.start()
    runner = LocalRunner(path, "t")
    try:
        with pytest.raises(UnavailableError, match="local connection to the session manager broke"):
            runner.run_task(ext.RunTaskRequest(session_id="s1", input=b"x"), "run task")
    finally:
        t.join(10)
        listener.close()
        runner.close()
    # no socket at all: nothing is sent, the caller may use gRPC
    assert LocalRunner(tmp_path / "none.sock", "t").run_task(ext.RunTaskRequest(session_id="s1"), "x") is None


def test_an_executor_manager_attaches_over_the_local_socket(server, tmp_path: Path) -> None:
    """A real executor manager on this host streams over the socket; with --no-local-pipe, gRPC."""
    from executor.config import ManagerConfig
    from executor.local_attach import LocalAttach
    from executor.manager import ExecutorManager

    for local_pipe, expected in ((True, LocalAttach), (False, None)):
        cfg = ManagerConfig(
            endpoint=f"http://{server.target}",
            name=f"n-{local_pipe}",
            work_dir=tmp_path,
            local_pipe=local_pipe,
            token=server.tokens.node,  # joins as executor managers do: with the node token
        )

        async def attach_and_look(cfg: ManagerConfig = cfg) -> object:
            import grpc

            manager = ExecutorManager(cfg)
            channel = grpc.aio.insecure_channel(server.target)
            try:
                call = await manager._open_stream(channel, asyncio.Queue())
                kind = type(call)
                call.cancel()
                return kind
            finally:
                await channel.close()

        kind = asyncio.run(attach_and_look())
        if expected is None:
            assert kind is not LocalAttach
        else:
            assert kind is expected


def test_concurrent_and_large_invokes_over_the_local_socket(server, fake_node: FakeNode) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from flamepy.types import MAX_TASK_DATA_BYTES

    with flamepy.Connection(f"http://{server.target}") as conn:
        ssn = conn.create_session(flamepy.SessionAttributes(application="flmping", id="s1"))

        def caller(k: int) -> list[bytes | None]:
            return [ssn.invoke(f"{k}-{i}".encode()) for i in range(25)]

        with ThreadPoolExecutor(8) as pool:  # each thread takes its own pooled connection
            results = list(pool.map(caller, range(8)))
        assert results == [[f"{k}-{i}".encode() for i in range(25)] for k in range(8)]
        runner = conn.transport.local_runner
        assert isinstance(runner, LocalRunner) and 1 <= len(runner._idle) <= 8
        big = bytes(range(256)) * (MAX_TASK_DATA_BYTES // 256)
        assert ssn.invoke(big) == big  # several socket reads per frame, both ways
        assert conn.get_session("s1").status.succeed == 201


def test_a_malformed_request_gets_an_error_and_the_connection_keeps_serving(stubs, fake_node) -> None:
    from flamepy.common.taskpipe import HEADER

    fs, _ = stubs
    from flamepy.proto import frontend_pb2 as fe
    from flamepy.proto import types_pb2 as pb

    fs.CreateSession(fe.CreateSessionRequest(session_id="s1", session=pb.SessionSpec(application="flmping")))
    path, token = _endpoint(stubs)

    def reply(sock: socket.socket) -> bytes:
        (n,) = HEADER.unpack(sock.recv(4, socket.MSG_WAITALL))
        return sock.recv(n, socket.MSG_WAITALL)

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(localpipe.hello(localpipe.ROLE_CLIENT, token))
        assert reply(sock) == localpipe.OK
        sock.sendall(frame(b"\xff\xff\xff"))  # not a RunTaskRequest
        bad = reply(sock)
        assert bad[0] == 3 and bad[1:].startswith(b"malformed RunTaskRequest")  # INVALID_ARGUMENT
        sock.sendall(frame(ext.RunTaskRequest(session_id="s1", input=b"ok").SerializeToString()))
        good = reply(sock)
        assert good[0] == 0 and pb.Task.FromString(good[1:]).spec.output == b"ok"


def test_a_repeated_key_gets_the_finished_tasks_reply_at_once(stubs, fake_node) -> None:
    """A RunTask whose idempotency key names a task already finished (kept in memory or only in
    storage by now) is answered from that task, without running anything again."""
    from flamepy.common.taskpipe import HEADER
    from flamepy.proto import frontend_pb2 as fe
    from flamepy.proto import types_pb2 as pb

    fs, _ = stubs
    fs.CreateSession(fe.CreateSessionRequest(session_id="s1", session=pb.SessionSpec(application="flmping")))
    path, token = _endpoint(stubs)

    def run(sock: socket.socket, key: str, data: bytes) -> pb.Task:
        req = ext.RunTaskRequest(session_id="s1", input=data, idempotency_key=key)
        sock.sendall(frame(req.SerializeToString()))
        (n,) = HEADER.unpack(sock.recv(4, socket.MSG_WAITALL))
        reply = sock.recv(n, socket.MSG_WAITALL)
        assert reply[0] == 0, reply
        return pb.Task.FromString(reply[1:])

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(localpipe.hello(localpipe.ROLE_CLIENT, token))
        (n,) = HEADER.unpack(sock.recv(4, socket.MSG_WAITALL))
        assert sock.recv(n, socket.MSG_WAITALL) == localpipe.OK
        first = run(sock, "k1", b"one")
        again = run(sock, "k1", b"ignored: the key names task 1")
        other = run(sock, "k2", b"two")
    assert first.metadata.id == again.metadata.id == "1" and other.metadata.id == "2"
    assert again.spec.output == b"one" and other.spec.output == b"two"
    listed = fs.ListTask(fe.ListTaskRequest(session_id="s1"))
    assert sorted(t.metadata.id for t in listed) == ["1", "2"]  # nothing ran twice
