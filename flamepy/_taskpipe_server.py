"""The service end of the task pipe (:mod:`flamepy.common.taskpipe`): one thread, blocking sockets.

Accepts one executor connection at a time and answers each request frame with ``handle(payload)``,
in order. The executor may send tasks ahead; every complete frame received is answered before the
next read. Each result is written as soon as it is ready — so the results of finished tasks are in
the executor's socket buffer even if a later task kills the process, and the crash is charged to
the right task (the executor groups results into messages on its side). A broken connection is
logged and the next one accepted; :meth:`PipeServer.close` stops it and removes the socket file.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from flamepy.common.taskpipe import PipeError, frame, take_frames

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
        buf = bytearray()
        while True:
            for payload in take_frames(buf):  # answer every complete request received so far
                conn.sendall(frame(self._handle(payload)))
            data = conn.recv(_BUFFER)
            if not data:
                if buf:
                    raise PipeError("task pipe closed inside a frame")
                return  # the executor hung up
            buf += data
