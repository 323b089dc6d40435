"""The gRPC transport's retries against an unreachable session manager (a closed loopback port), and
the error mapping that feeds the one retryable decision."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import grpc
import pytest

import flamepy
from flamepy import _rpc
from flamepy.transport import retry
from flamepy.transport.grpc import GrpcTransport


class _FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.fixture
def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nobody listens there now
    return int(port)


@pytest.fixture
def down(closed_port: int) -> Iterator[GrpcTransport]:
    with GrpcTransport(f"http://127.0.0.1:{closed_port}", retry_deadline=0.3) as t:
        t.reached = True  # as if the server had answered before it went away
        yield t


def test_cancelled_without_details_is_a_broken_connection() -> None:
    err = _rpc.map_rpc_error(_FakeRpcError(grpc.StatusCode.CANCELLED, ""), "create 3 tasks")
    assert isinstance(err, flamepy.UnavailableError) and retry.retryable(err)
    ours = _rpc.map_rpc_error(_FakeRpcError(grpc.StatusCode.CANCELLED, "Locally cancelled by application!"))
    assert not retry.retryable(ours)  # our own cancel is not retried


def test_never_sent_is_read_from_the_connect_failure() -> None:
    refused = _FakeRpcError(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses; refused")
    broken = _FakeRpcError(grpc.StatusCode.UNAVAILABLE, "Socket closed")
    with pytest.raises(flamepy.UnavailableError) as info, _rpc.translate("run task"):
        raise refused
    assert _rpc.never_sent(info.value)
    with pytest.raises(flamepy.UnavailableError) as info, _rpc.translate("run task"):
        raise broken
    assert not _rpc.never_sent(info.value)


def test_reads_are_retried_until_the_deadline(down: GrpcTransport) -> None:
    start = time.monotonic()
    with pytest.raises(
        flamepy.UnavailableError, match=r"get session 's1': session manager unreachable for 0\.3"
    ):
        down.get_session("s1")
    assert time.monotonic() - start >= 0.3


def test_retry_off_fails_at_once(closed_port: int) -> None:
    with GrpcTransport(f"http://127.0.0.1:{closed_port}", retry_deadline=0) as t:
        t.reached = True
        with pytest.raises(flamepy.UnavailableError) as info:
            t.list_sessions()
        assert "unreachable for" not in info.value.message


def test_a_server_never_reached_fails_at_once(closed_port: int) -> None:
    """A wrong endpoint or a cluster not started: no 60 s wait (flmctl against nothing, say)."""
    with GrpcTransport(f"http://127.0.0.1:{closed_port}") as t:
        start = time.monotonic()
        with pytest.raises(flamepy.UnavailableError) as info:
            t.list_nodes()
        assert "unreachable for" not in info.value.message
        with pytest.raises(flamepy.UnavailableError) as info:
            t.run_task("s1", b"x")
        assert "may still run" not in info.value.message  # nothing was sent
        assert time.monotonic() - start < 30


def test_invoke_while_unreachable_says_the_task_may_still_run(down: GrpcTransport) -> None:
    with pytest.raises(flamepy.UnavailableError, match="unreachable for 0.3 s; the task may still run"):
        down.run_task("s1", b"x")


def test_watch_task_is_reopened_until_the_deadline(down: GrpcTransport) -> None:
    with pytest.raises(flamepy.UnavailableError, match="task 7 of session 's1' may still run"):
        list(down.watch_task("s1", "7"))


def test_close_ends_a_retry_wait(closed_port: int) -> None:
    transport = GrpcTransport(f"http://127.0.0.1:{closed_port}", retry_deadline=60.0)
    transport.reached = True
    errors: list[BaseException] = []

    def read() -> None:
        try:
            transport.list_nodes()
        except flamepy.FlameError as err:
            errors.append(err)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    transport.close()
    reader.join(timeout=10)
    assert not reader.is_alive()
    # closed while waiting to retry (InvalidStateError) or while the call was out (channel closed)
    assert len(errors) == 1 and "unreachable" not in str(errors[0])


def test_bad_deadline_is_refused() -> None:
    with pytest.raises(flamepy.InvalidArgumentError, match="retry_deadline"):
        GrpcTransport("http://127.0.0.1:1", retry_deadline=-1)
