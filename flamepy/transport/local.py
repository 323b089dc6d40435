"""The SDK's end of the local protocol (:mod:`flamepy.common.localpipe`): ``RunTask`` (``Session.invoke``)
over the session manager's Unix socket when the client runs on the same host.

Concurrency model: a small pool of blocking connections, each used by one calling thread at a time,
so a call goes out and comes back on the caller's own thread (no hand-off to a background thread);
the pool is guarded by a lock. Discovery is given the answer of ``FrontendExt.GetLocalEndpoint`` by
the gRPC transport; no answer, no socket here or a refused hello means gRPC.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from flamepy import _rpc
from flamepy.common import localpipe
from flamepy.common.taskpipe import HEADER, PipeError, frame, frame_length
from flamepy.errors import FlameError, UnavailableError
from flamepy.proto import extensions_pb2, types_pb2
from flamepy.transport.retry import retryable

log = logging.getLogger(__name__)

_CONNECT_TIMEOUT_S = 5.0
_MAX_IDLE = 8  # connections kept for reuse
_FIRST_READ = 64 * 1024  # bytes asked for by a reply's first read


class LocalRunner:
    def __init__(self, path: Path, token: str) -> None:
        self.path = path
        self.token = token
        self._idle: list[socket.socket] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._closed = False

    @classmethod
    def discover(cls, ask: Callable[[], extensions_pb2.LocalEndpoint]) -> LocalRunner | None:
        """A runner for the session manager answering ``ask()`` (GetLocalEndpoint) when it offers a
        local socket we can use; raises the error of an unreachable session manager."""
        try:
            reply = ask()
        except FlameError as err:
            if retryable(err):
                raise  # the session manager is unreachable now: ask again later
            log.debug("no local endpoint: %s", err)
            return None
        if not reply.path or not Path(reply.path).is_socket():
            return None
        runner = cls(Path(reply.path), reply.token)
        try:
            runner._give(runner._connect())
        except (OSError, PipeError) as exc:
            log.debug("local endpoint %s not usable: %s", reply.path, exc)
            return None
        return runner

    def run_task(self, request: extensions_pb2.RunTaskRequest, what: str) -> types_pb2.Task | None:
        """The task's final state; None when no connection could be made (nothing was sent: the
        caller may use gRPC). Once sent, a broken connection raises UnavailableError, as gRPC would."""
        try:
            sock = self._take()
        except (OSError, PipeError) as exc:
            log.info("local endpoint %s not usable (%s); using gRPC", self.path, exc)
            return None
        try:
            sock.sendall(frame(request.SerializeToString()))
            reply = _read_frame(sock)
        except (OSError, PipeError) as exc:
            sock.close()
            broke = f"{what}: the local connection to the session manager broke ({exc})"
            raise UnavailableError(broke) from exc
        self._give(sock)
        if reply[0] == 0:
            return types_pb2.Task.FromString(reply[1:])
        _rpc.check_result(reply[0], reply[1:].decode("utf-8", "replace"), what)
        raise AssertionError("check_result raises for a non-zero status")  # pragma: no cover

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for sock in idle:
            sock.close()

    def _take(self) -> socket.socket:
        with self._lock:
            if os.getpid() != self._pid:  # a forked child: the parent's connections are not ours
                self._idle, self._pid = [], os.getpid()
            while self._idle:
                sock = self._idle.pop()
                if _still_open(sock):
                    return sock
                sock.close()  # the session manager closed it while idle (it stopped, say)
        return self._connect()

    def _give(self, sock: socket.socket) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < _MAX_IDLE and os.getpid() == self._pid:
                self._idle.append(sock)
                return
        sock.close()

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(_CONNECT_TIMEOUT_S)
            sock.connect(str(self.path))
            sock.sendall(localpipe.hello(localpipe.ROLE_CLIENT, self.token))
            answer = _read_frame(sock)
            if answer != localpipe.OK:
                raise PipeError(f"refused: {answer.decode('utf-8', 'replace')}")
            sock.settimeout(None)  # a task runs as long as it runs, as over gRPC without a deadline
        except BaseException:
            sock.close()
            raise
        return sock


def _still_open(sock: socket.socket) -> bool:
    """An idle connection is usable unless the other end has closed it (nothing else is ever sent
    to an idle connection)."""
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def _read_frame(sock: socket.socket) -> bytes:
    """One reply frame's payload. The server sends nothing unasked, so a first read of up to
    :data:`_FIRST_READ` bytes takes the header and, usually, the whole reply in one system call."""
    head = sock.recv(_FIRST_READ)
    if len(head) < HEADER.size:
        if not head:
            raise PipeError("the session manager closed the local connection")
        head += _recv_exactly(sock, HEADER.size - len(head))
    n = frame_length(head[: HEADER.size])
    body = head[HEADER.size :]
    if len(body) < n:
        body += _recv_exactly(sock, n - len(body))
    elif len(body) > n:
        raise PipeError(f"{len(body) - n} unexpected bytes after a reply from the session manager")
    return body


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = sock.recv_into(view[got:])
        if k == 0:
            raise PipeError("the session manager closed the local connection")
        got += k
    return bytes(buf)
