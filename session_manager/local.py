"""The session manager's end of the local protocol (:mod:`flamepy.common.localpipe`): a Unix socket that
same-host SDK clients (RunTask) and executor managers (the Attach stream) use instead of gRPC.

A transport beside gRPC, not above or below it: it calls the same broker API (``RunTask``) and the
same node stream handler (``session_manager.node_stream``) as the gRPC servicers, and imports none
of them; a task run here and one run over gRPC are indistinguishable. Runs on the server's event
loop. The socket file is made owner-only; a peer proves it learned the endpoint from this server
(``GetLocalEndpoint``) with the token in its hello — the local counterpart of the credentials a
gRPC interceptor would check. A new transport is one more module like this one, wired in
``server.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path

import grpc

from flamepy.common import convert as conv
from flamepy.common import localpipe
from flamepy.common.grpc_status import details_of, status_of
from flamepy.common.taskpipe import PipeError, frame
from flamepy.common.wire_check import decode
from flamepy.errors import FlameError
from flamepy.proto import backend_pb2 as be
from flamepy.proto import extensions_pb2 as ext
from flamepy.types import Task
from session_manager import effects, validate
from session_manager.backend_convert import commands_pb
from session_manager.broker import Broker
from session_manager.node_stream import node_stream

log = logging.getLogger(__name__)


class LocalServer:
    def __init__(self, broker: Broker, path: Path) -> None:
        self.broker = broker
        self.path = path
        self.token = secrets.token_hex(16)
        self._server: asyncio.AbstractServer | None = None
        self._conns: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.path.unlink(missing_ok=True)
        self._server = await asyncio.start_unix_server(self._accept, str(self.path))
        os.chmod(self.path, 0o600)
        log.info("local endpoint at %s", self.path)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._conns):
            task.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)
        self.path.unlink(missing_ok=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            role = await self._greet(reader, writer)
            if role == localpipe.ROLE_CLIENT:
                await self._serve_client(reader, writer)
            elif role == localpipe.ROLE_NODE:
                await self._serve_node(reader, writer)
        except (PipeError, ConnectionError) as exc:
            log.debug("local connection ended: %s", exc)
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("local connection: unexpected error")
        finally:
            self._conns.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _greet(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str | None:
        payload = await localpipe.read_frame(reader)
        if payload is None:
            return None
        try:
            role, token = localpipe.parse_hello(payload)
        except PipeError as exc:
            writer.write(frame(f"error {exc}".encode()))
            return None
        if not secrets.compare_digest(token, self.token):
            writer.write(frame(b"error wrong token: this socket belongs to another session manager"))
            return None
        if role not in (localpipe.ROLE_CLIENT, localpipe.ROLE_NODE):
            writer.write(frame(f"error unknown role {role!r}".encode()))
            return None
        writer.write(frame(localpipe.OK))
        return role

    async def _serve_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """RunTask, one at a time per connection: the reply is written as the task's terminal state
        is published (no loop turn in between); the next request is read after it."""
        while (payload := await localpipe.read_frame(reader)) is not None:
            replied: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            def reply(task: Task, replied: asyncio.Future[None] = replied) -> None:
                _answer(writer, replied, lambda: b"\x00" + conv.task_to_pb(task).SerializeToString())

            forget = None
            try:
                request = decode(ext.RunTaskRequest, payload)
                validate.task_request(request.session_id, 1, self.broker.config.limits)
                data = request.input if request.HasField("input") else None
                sid, key = request.session_id, request.idempotency_key or None
                forget = self.broker.when_final(sid, await self.broker.start_task(sid, data, key), reply)
                await replied
            except Exception as exc:
                _answer(writer, replied, partial(_error_reply, exc))
            finally:
                if forget is not None:
                    forget()

    async def _serve_node(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def incoming() -> AsyncIterator[be.NodeMessage]:
            while (payload := await localpipe.read_frame(reader)) is not None:
                yield decode(be.NodeMessage, payload)

        def direct(cmds: list[effects.Command]) -> bool:
            if writer.is_closing() or writer.transport.get_write_buffer_size():
                return False  # unsent bytes: the stream sends (and waits for the node to read)
            for msg in commands_pb(cmds):
                writer.write(frame(msg.SerializeToString()))
            return True

        try:
            async for msg in node_stream(self.broker, incoming(), direct):
                writer.write(frame(msg.SerializeToString()))
                await writer.drain()
        except FlameError as exc:
            log.warning("local node stream refused: %s", exc.message)


def _answer(writer: asyncio.StreamWriter, replied: asyncio.Future[None], reply: Callable[[], bytes]) -> None:
    """Write one RunTask reply (unless one was written): ``reply()``, or the error it raised."""
    if replied.done():
        return
    try:
        payload = reply()
    except Exception as exc:
        payload = _error_reply(exc)
    writer.write(frame(payload))
    replied.set_result(None)


def _error_reply(exc: BaseException) -> bytes:
    if isinstance(exc, FlameError):
        return bytes([status_of(exc).value[0]]) + details_of(exc).encode()
    log.error("local RunTask failed", exc_info=exc)  # a bug: answer INTERNAL, keep serving
    return bytes([grpc.StatusCode.INTERNAL.value[0]]) + f"internal error: {exc!r}".encode()


def local_socket_path(configured: str | None, data_dir: str | None) -> Path | None:
    """Where to listen: the configured path ('' turns the fast path off), else ``<data_dir>/sm.sock``
    (or, when that is too long for a Unix socket address, a name derived from it in the temporary
    directory); None for no local endpoint."""
    if configured is not None:
        return Path(configured) if configured else None
    if not data_dir:
        return None
    path = Path(data_dir).resolve() / "sm.sock"
    if len(str(path)) < localpipe.MAX_SOCKET_PATH:
        return path
    # too long for a socket address: a short name in the temporary directory, one per data dir
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:16]
    short = Path(tempfile.gettempdir()) / f"flame-sm-{digest}.sock"
    return short if len(str(short)) < localpipe.MAX_SOCKET_PATH else None
