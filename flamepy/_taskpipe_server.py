"""The service end of the task pipe (:mod:`flamepy.taskpipe`): one thread, blocking sockets.

Accepts one executor connection at a time and answers each request frame with ``handle(payload)``,
in order. A broken connection is logged and the next one accepted; :meth:`PipeServer.close` stops
the thread and removes the socket file.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from flamepy.taskpipe import HEADER, PipeError, frame, frame_length

log = logging.getLogger(__name__)

_BUFFER = 1 << 16


class PipeServer:
    def __init__(self, path: Path, handle: Callable[[bytes], bytes]) -> None:
        self.path = path
        self._handle = handle
        if path.exists() and path.is_socket():
            path.unlink()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(path))
        self._listener.listen(1)
        self._closed = False
        self._conn: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, name="flamepy-task-pipe", daemon=True)

    def start(self) -> PipeServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed = True
        for sock in (self._conn, self._listener):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        with contextlib.suppress(OSError):
            self.path.unlink()

    def _serve(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed
            self._conn = conn
            try:
                self._serve_connection(conn)
            except (OSError, PipeError) as exc:
                if not self._closed:
                    log.warning("task pipe connection ended: %s", exc)
            except Exception:  # a malformed request: drop the connection, keep serving
                log.exception("task pipe: bad request; connection dropped")
            finally:
                conn.close()
                self._conn = None

    def _serve_connection(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb", buffering=_BUFFER)
        with reader:
            while True:
                header = reader.read(HEADER.size)
                if not header:
                    return  # the executor hung up
                if len(header) < HEADER.size:
                    raise PipeError("task pipe closed inside a frame header")
                n = frame_length(header)
                payload = reader.read(n)
                if len(payload) < n:
                    raise PipeError("task pipe closed inside a frame")
                conn.sendall(frame(self._handle(payload)))
