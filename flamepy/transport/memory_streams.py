"""The streams of :class:`~flamepy.transport.memory.MemoryTransport`: a task's snapshots and a
session watch.

Concurrency model: each stream is consumed by one thread; it waits on the transport's ``Condition``
(task snapshots) or on a queue of its own (session watch), and is cancelled from any thread.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from flamepy.errors import FlameError, InternalError, UnavailableError
from flamepy.transport.base import WatchBatch, WatchRegistered
from flamepy.types import Task, TaskState

if TYPE_CHECKING:
    from flamepy.transport.memory import MemoryTransport

END = object()  # ends a session watch's queue


def follow_task(
    transport: MemoryTransport,
    session_id: str,
    task_id: str,
    timeout: float | None,
    cancelled: threading.Event,
) -> Iterator[Task]:
    """Each new state of the task, ending at a terminal one; UnavailableError past ``timeout``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    last: TaskState | None = None
    cond = transport.cond

    def changed() -> bool:
        return transport.task(session_id, task_id).state != last or cancelled.is_set() or transport.closed

    while True:
        with cond:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            cond.wait_for(changed, timeout=wait)
            task = transport.task(session_id, task_id)
        if cancelled.is_set() or transport.closed:
            raise InternalError(f"watch task {task_id} of session {session_id!r}: cancelled")
        if task.state == last:
            raise UnavailableError(f"watch task {task_id} of session {session_id!r}: deadline exceeded")
        last = task.state
        yield task
        if task.state.is_terminal:
            return


class MemorySessionWatch:
    """A session watch on a :class:`MemoryTransport`: registered when iteration starts; says so at
    once, or with its first completions when the transport's ``headers_early`` is False."""

    def __init__(self, transport: MemoryTransport, session_id: str) -> None:
        self._transport = transport
        self._sid = session_id
        self._queue: queue.SimpleQueue[object] | None = None
        self._cancelled = threading.Event()

    def __iter__(self) -> Iterator[WatchRegistered | WatchBatch]:
        q = self._transport.register_watch(self._sid)
        self._queue = q
        if self._cancelled.is_set():
            q.put(END)
        try:
            registered = self._transport.headers_early
            if registered:
                yield WatchRegistered(per_task=False)
            while True:
                batch = _next_batch(q)
                if batch is None:
                    return
                if not registered:
                    registered = True
                    yield WatchRegistered(per_task=False)
                yield batch
        finally:
            self._transport.drop_watch(self._sid, q)

    def track(self, task_ids: list[str]) -> None:
        pass  # every task of the session is watched

    def cancel(self) -> None:
        self._cancelled.set()
        if self._queue is not None:
            self._queue.put(END)


def _next_batch(q: queue.SimpleQueue[object]) -> WatchBatch | None:
    """What is queued, at least one completion; None at the end; raises a queued error."""
    item = q.get()
    if item is END:
        return None
    if isinstance(item, FlameError):
        raise item
    batch: WatchBatch = [item]  # type: ignore[list-item]
    while not q.empty():
        nxt = q.get_nowait()
        if nxt is END or isinstance(nxt, FlameError):
            q.put(nxt)  # after what came before it
            break
        batch.append(nxt)  # type: ignore[arg-type]
    return batch
