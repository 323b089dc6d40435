"""The service runtime in a real subprocess, driven over its Unix socket like an executor does."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

import flamepy
from flamepy.proto import shim_pb2, shim_pb2_grpc, types_pb2
from flamepy.service import socket_path

SERVICE = Path(__file__).with_name("sdk_echo_service.py")


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="flm", dir="/tmp") as d:  # short: unix socket paths
        yield Path(d)


def _start(sock: Path, endpoint: str) -> subprocess.Popen:
    env = {**os.environ, "FLAME_INSTANCE_ENDPOINT": endpoint, "FLAME_LOG": "debug"}
    return subprocess.Popen(
        [sys.executable, str(SERVICE)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _stub(sock: Path) -> tuple[grpc.Channel, shim_pb2_grpc.InstanceStub]:
    fast_retry = [
        ("grpc.initial_reconnect_backoff_ms", 20),
        ("grpc.min_reconnect_backoff_ms", 20),
        ("grpc.max_reconnect_backoff_ms", 100),
    ]
    channel = grpc.insecure_channel(f"unix:{sock}", options=fast_retry)
    grpc.channel_ready_future(channel).result(timeout=30)
    return channel, shim_pb2_grpc.InstanceStub(channel)


def _session_ctx(common_data: bytes) -> shim_pb2.SessionContext:
    app = shim_pb2.ApplicationContext(name="echo", command="python")
    return shim_pb2.SessionContext(session_id="s1", application=app, common_data=common_data)


def _invoke(stub, data: bytes | None, task_id: str = "1") -> types_pb2.TaskResult:
    ctx = shim_pb2.TaskContext(task_id=task_id, session_id="s1")
    if data is not None:
        ctx.input = data
    return stub.OnTaskInvoke(ctx, timeout=30)


@pytest.mark.parametrize("scheme", ["unix://", ""])
def test_service_lifecycle_in_a_subprocess(sock_dir: Path, scheme: str) -> None:
    sock = sock_dir / "svc.sock"
    proc = _start(sock, f"{scheme}{sock}")
    try:
        channel, stub = _stub(sock)
        refused = stub.OnSessionEnter(_session_ctx(b"refuse"), timeout=30)
        assert refused.return_code == 1
        assert refused.message == "RuntimeError: refusing this session"
        assert stub.OnSessionEnter(_session_ctx(b"cd"), timeout=30).return_code == 0

        echoed = _invoke(stub, b"hello")
        assert (echoed.return_code, echoed.output) == (0, b"hello")
        ctx = _invoke(stub, b"ctx", task_id="7")
        assert ctx.output == b"s1|echo|python|7|cd"
        none = _invoke(stub, b"none")
        assert none.return_code == 0 and not none.HasField("output")
        empty = _invoke(stub, b"empty")
        assert empty.return_code == 0 and empty.HasField("output") and empty.output == b""
        no_input = _invoke(stub, None)
        assert no_input.return_code == 0 and not no_input.HasField("output")
        raised = _invoke(stub, b"raise")
        assert (raised.return_code, raised.message) == (1, "ValueError: bad input")
        wrong = _invoke(stub, b"int")
        assert wrong.return_code == 1 and "int" in wrong.message and "bytes" in wrong.message

        assert stub.OnSessionLeave(types_pb2.EmptyRequest(), timeout=30).return_code == 0
        channel.close()
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out.decode()
    assert b"Traceback" in out and b"ValueError: bad input" in out  # the traceback is logged


def test_run_in_a_thread_returns_after_leave(sock_dir: Path) -> None:
    sys.path.insert(0, str(SERVICE.parent))
    try:
        from sdk_echo_service import Echo
    finally:
        sys.path.remove(str(SERVICE.parent))
    sock = sock_dir / "t.sock"
    thread = threading.Thread(target=flamepy.run, args=(Echo(), f"unix://{sock}"), daemon=True)
    thread.start()
    channel, stub = _stub(sock)
    with channel:
        assert stub.OnSessionEnter(_session_ctx(b""), timeout=30).return_code == 0
        assert _invoke(stub, b"x").output == b"x"
        assert stub.OnSessionLeave(types_pb2.EmptyRequest(), timeout=30).return_code == 0
    thread.join(timeout=30)
    assert not thread.is_alive()


def test_missing_endpoint_is_invalid_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLAME_INSTANCE_ENDPOINT", raising=False)

    class Noop(flamepy.FlameService):
        def on_session_enter(self, context):
            pass

        def on_task_invoke(self, context):
            return None

        def on_session_leave(self):
            pass

    with pytest.raises(flamepy.InvalidConfigError, match="FLAME_INSTANCE_ENDPOINT"):
        flamepy.run(Noop())
    with pytest.raises(flamepy.InvalidConfigError, match="FlameService"):
        flamepy.run(object())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("endpoint", "path"),
    [("unix:///tmp/a.sock", "/tmp/a.sock"), ("unix:/tmp/b.sock", "/tmp/b.sock"), ("/tmp/c", "/tmp/c")],
)
def test_socket_path_forms(endpoint: str, path: str) -> None:
    assert socket_path(endpoint) == Path(path)


def test_flame_service_is_abstract() -> None:
    with pytest.raises(TypeError):
        flamepy.FlameService()  # type: ignore[abstract]
