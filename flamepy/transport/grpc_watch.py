"""``FrontendExt.WatchSession`` as a :class:`~flamepy.transport.base.SessionWatch`, falling back to
one WatchTask per task when the server lacks FrontendExt; :class:`Reopening`, a server stream of
tasks opened again after the session manager became unreachable (WatchTask, ListTask).

Concurrency model: one thread iterates a watch (it blocks in the stream); :meth:`cancel` may come
from any thread and cancels the stream (or the per-task watch it switched to).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from flamepy import _rpc
from flamepy.common import convert as _convert
from flamepy.errors import FlameError, InvalidStateError
from flamepy.proto import extensions_pb2
from flamepy.transport.base import TaskWatcher, WatchBatch, WatchRegistered
from flamepy.transport.grpc_channel import GrpcChannel
from flamepy.transport.per_task import PerTaskWatch
from flamepy.transport.retry import Retry, retryable, unreachable
from flamepy.types import Task

log = logging.getLogger(__name__)


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


class Reopening:
    """A server stream of tasks opened again after a retryable error, within the transport's retry
    deadline (counted from the first failure since the last message). ``resume``: also after
    messages came (a watch, whose server sends the current state first); otherwise only before."""

    def __init__(
        self,
        transport: GrpcChannel,
        open_call: Callable[[], Any],
        what: str,
        resume: bool,
        may_run: str = "",
    ) -> None:
        self._transport = transport
        self._open_call = open_call
        self._what = what
        self._resume = resume
        self._may_run = may_run
        self._lock = threading.Lock()
        self._call: Any = None
        self._cancelled = False

    def __iter__(self) -> Iterator[Task]:
        retry = Retry(self._transport._deadline)
        convert = _convert.task_from_pb
        came = False
        while True:
            with self._lock:
                if self._cancelled:
                    return
                self._call = call = self._open_call()
            try:
                with _rpc.translate(self._what):
                    for msg in call:
                        came = self._transport.reached = True
                        retry.progressed()
                        yield convert(msg)
                return
            except FlameError as err:
                if self._cancelled or (came and not self._resume):
                    raise
                now = time.monotonic()
                delay = retry.next_delay(err, now)
                if delay is None:
                    if retry.since is None or not retryable(err):
                        raise
                    raise unreachable(self._what, retry.waited(now), err, self._may_run) from err
                log.info("%s: %s; reopening in %.2f s", self._what, err.message, delay)
                if self._transport._stop.wait(delay):
                    raise InvalidStateError(f"{self._what}: the connection was closed") from err

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            call = self._call
        if call is not None:
            call.cancel()
