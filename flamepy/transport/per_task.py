"""A session watch made of one task watch per task, for servers without a session-wide watch.

Concurrency model: :meth:`PerTaskWatch.track` hands each task to a small pool of threads (at most
``FALLBACK_WATCHERS``), each following one task with ``watch_task`` until its terminal state; what
they learn goes through a queue to the one thread iterating the watch. :meth:`PerTaskWatch.cancel`
(any thread) stops the task watches, the pool and the iteration.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from flamepy.errors import FlameError
from flamepy.transport.base import TaskWatcher, TaskWatchError, WatchBatch, WatchRegistered
from flamepy.types import TaskCompletion

log = logging.getLogger(__name__)

FALLBACK_WATCHERS = 32  # WatchTask threads when the server has no session-wide watch

_END = object()


class PerTaskWatch:
    """Implements :class:`~flamepy.transport.base.SessionWatch` with ``watch_task(task_id)``."""

    def __init__(self, session_id: str, watch_task: Callable[[str], TaskWatcher]) -> None:
        self._sid = session_id
        self._watch_task = watch_task
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[WatchBatch | object] = queue.SimpleQueue()
        self._watchers: set[TaskWatcher] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._cancelled = False

    def __iter__(self) -> Iterator[WatchRegistered | WatchBatch]:
        yield WatchRegistered(per_task=True)
        while True:
            item = self._queue.get()
            if item is _END:
                return
            assert isinstance(item, list)
            yield item

    def track(self, task_ids: list[str]) -> None:
        with self._lock:
            if self._cancelled or not task_ids:
                return
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    FALLBACK_WATCHERS, thread_name_prefix=f"flame-watch-task-{self._sid}"
                )
            for tid in task_ids:  # under the lock: cancel() cannot shut the pool down meanwhile
                self._pool.submit(self._follow, tid)

    def cancel(self) -> None:
        with self._lock:
            if self._cancelled:
                return
            self._cancelled = True
            watchers, pool = list(self._watchers), self._pool
        for watcher in watchers:
            watcher.cancel()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        self._queue.put(_END)

    def _follow(self, task_id: str) -> None:
        with self._lock:
            if self._cancelled:
                return
            try:
                watcher = self._watch_task(task_id)
            except FlameError as err:
                self._queue.put([TaskWatchError(task_id, err)])
                return
            self._watchers.add(watcher)
        last = None
        try:
            for snapshot in watcher:
                last = snapshot
        except FlameError as err:
            if not self._cancelled:
                self._queue.put([TaskWatchError(task_id, err)])
            return
        finally:
            with self._lock:
                self._watchers.discard(watcher)
        if last is not None and last.state.is_terminal:
            self._queue.put([TaskCompletion(last.id, last.state, last.output, last.message)])
