"""``FrontendExt.WatchSession`` as a :class:`~flamepy.transport.base.SessionWatch`, falling back to
one WatchTask per task when the server lacks FrontendExt.

Concurrency model: one thread iterates a watch (it blocks in the stream); :meth:`cancel` may come
from any thread and cancels the stream (or the per-task watch it switched to).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from flamepy import _rpc
from flamepy.common import convert as _convert
from flamepy.errors import FlameError
from flamepy.proto import extensions_pb2
from flamepy.transport.base import TaskWatcher, WatchBatch, WatchRegistered
from flamepy.transport.per_task import PerTaskWatch


class GrpcSessionWatch:
    """One WatchSession stream; ``open_stream`` makes the call, ``unsupported(err)`` says (and
    records) whether an error means the server has no FrontendExt."""

    def __init__(
        self,
        session_id: str,
        open_stream: Callable[[Any], Any] | None,
        unsupported: Callable[[FlameError], bool],
        watch_task: Callable[[str], TaskWatcher],
    ) -> None:
        self._sid = session_id
        self._open = open_stream
        self._unsupported = unsupported
        self._watch_task = watch_task
        self._lock = threading.Lock()
        self._call: Any = None
        self._fallback: PerTaskWatch | None = None
        self._cancelled = False

    def __iter__(self) -> Iterator[WatchRegistered | WatchBatch]:
        if self._open is None:  # the server is known to lack FrontendExt
            yield from self._per_task()
            return
        try:
            yield from self._stream(self._open)
        except FlameError as err:
            if not self._unsupported(err):
                raise
            yield from self._per_task()

    def _stream(self, open_stream: Callable[[Any], Any]) -> Iterator[WatchRegistered | WatchBatch]:
        with self._lock:
            if self._cancelled:
                return
            call = open_stream(extensions_pb2.WatchSessionRequest(session_id=self._sid))
            self._call = call
        completion = _convert.completion_from_pb
        with _rpc.translate(f"watch session {self._sid!r}"):
            call.initial_metadata()  # the server registered the watch
            if call.is_active():
                yield WatchRegistered(per_task=False)
            for msg in call:
                yield [completion(item) for item in msg.completions]

    def _per_task(self) -> Iterator[WatchRegistered | WatchBatch]:
        with self._lock:
            if self._cancelled:
                return
            self._fallback = PerTaskWatch(self._sid, self._watch_task)
        yield from self._fallback

    def track(self, task_ids: list[str]) -> None:
        fallback = self._fallback
        if fallback is not None:
            fallback.track(task_ids)

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            call, fallback = self._call, self._fallback
        if call is not None:
            call.cancel()
        if fallback is not None:
            fallback.cancel()
