"""The executor end of the task pipe (:mod:`flamepy.taskpipe`), on the manager's asyncio loop.

:meth:`TaskPipe.connect` returns None when the service did not open a pipe (an independent
``flame.v1`` service): the executor then invokes tasks over gRPC. Any transport failure raises
:class:`~flamepy.taskpipe.PipeError`; the caller treats it like a gRPC transport error (the process
is probably gone). :meth:`TaskPipe.abort` breaks a pending call at once (used when the process
exits, even if a forked child still holds the other end open).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from executor import convert
from executor.events import TaskRequest
from flamepy.proto import types_pb2
from flamepy.taskpipe import HEADER, PipeError, frame, frame_length

log = logging.getLogger(__name__)


class TaskPipe:
    def __init__(self, path: Path, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.path = path
        self._reader = reader
        self._writer = writer

    @classmethod
    async def connect(cls, path: Path) -> TaskPipe | None:
        if not path.exists():
            return None
        try:
            reader, writer = await asyncio.open_unix_connection(str(path))
        except OSError as exc:
            log.warning("task pipe %s: cannot connect (%s); using gRPC for tasks", path, exc)
            return None
        return cls(path, reader, writer)

    async def invoke(self, task: TaskRequest) -> tuple[int, bytes | None, str | None]:
        """One OnTaskInvoke: (return_code, output, message)."""
        try:
            self._writer.write(frame(convert.task_to_pb(task).SerializeToString()))
            await self._writer.drain()
            n = frame_length(await self._reader.readexactly(HEADER.size))
            body = await self._reader.readexactly(n)
        except (OSError, asyncio.IncompleteReadError) as exc:
            raise PipeError(f"task pipe broken: {exc!r}") from exc
        try:
            reply = types_pb2.TaskResult.FromString(body)
        except Exception as exc:  # protobuf's DecodeError
            raise PipeError(f"task pipe: malformed TaskResult ({exc})") from exc
        return convert.task_result_from_pb(reply)

    def abort(self) -> None:
        self._writer.transport.abort()

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError, asyncio.CancelledError):
            await self._writer.wait_closed()
