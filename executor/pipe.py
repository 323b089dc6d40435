"""The executor end of the task pipe (:mod:`flamepy.common.taskpipe`): an asyncio protocol, pipelined.

:meth:`TaskPipe.connect` returns None when the service did not open a pipe (an independent
``flame.v1`` service): the executor then invokes tasks over gRPC. :meth:`TaskPipe.send` writes tasks
without waiting for earlier answers; every reply that arrives is handed, in order and in the group it
came in, to the ``on_replies`` callback. :attr:`TaskPipe.broken` resolves with the reason when the
pipe ends or carries a malformed frame; :meth:`TaskPipe.abort` ends it at once (used when the
process exits, even if a forked child still holds the other end open).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from executor import convert
from executor.events import TaskRequest
from flamepy.common.taskpipe import PipeError, frame, take_frames
from flamepy.proto import types_pb2

log = logging.getLogger(__name__)

Reply = tuple[int, bytes | None, str | None]  # (return_code, output, message) of one task


class TaskPipe(asyncio.Protocol):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.on_replies: Callable[[list[Reply]], None] = _unexpected
        self.broken: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None

    @classmethod
    async def connect(cls, path: Path) -> TaskPipe | None:
        if not path.exists():
            return None
        loop = asyncio.get_running_loop()
        try:
            _, pipe = await loop.create_unix_connection(lambda: cls(path), str(path))
        except OSError as exc:
            log.warning("task pipe %s: cannot connect (%s); using gRPC for tasks", path, exc)
            return None
        return pipe

    def send(self, tasks: Sequence[TaskRequest]) -> None:
        """Queue ``tasks`` for the service (one write); their replies come to ``on_replies``."""
        if self._transport is None or self._transport.is_closing():
            self._break("task pipe is closed")
            return
        frames = [frame(convert.task_to_pb(t).SerializeToString()) for t in tasks]
        self._transport.write(b"".join(frames) if len(frames) > 1 else frames[0])

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()
        self._break("task pipe aborted")

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self._break("task pipe closed")

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buf += data
        replies: list[Reply] = []
        try:
            for payload in take_frames(self._buf):
                replies.append(_decode(payload))
        except PipeError as exc:
            self._break(str(exc))
            if self._transport is not None:
                self._transport.abort()
        if replies:
            self.on_replies(replies)

    def connection_lost(self, exc: Exception | None) -> None:
        self._break(f"task pipe broken: {exc!r}" if exc else "task pipe closed by the service")

    def _break(self, reason: str) -> None:
        if not self.broken.done():
            self.broken.set_result(reason)


def _decode(body: bytes) -> Reply:
    try:
        reply = types_pb2.TaskResult.FromString(body)
    except Exception as exc:  # protobuf's DecodeError
        raise PipeError(f"task pipe: malformed TaskResult ({exc})") from exc
    return convert.task_result_from_pb(reply)


def _unexpected(replies: list[Reply]) -> None:
    log.warning("task pipe: %d reply(ies) with no task waiting; ignored", len(replies))
