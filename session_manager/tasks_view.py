"""Reading and watching tasks for the broker's API (shell side, asyncio, no protobuf).

Unfinished tasks are in the core's memory; finished ones are read back from storage, a chunk at a
time. Watches are event-driven: a queue from ``Watchers`` that the shell publishes to once a
change is durable. Used only from the server's event loop. A job task's log is not a watch: it
is read from its node on request (``task_logs``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial

from flamepy.errors import NotFoundError
from flamepy.types import SessionState, Task
from session_manager.core import Core
from session_manager.storage.base import Storage
from session_manager.watchers import Watchers

LIST_CHUNK = 1000  # tasks read from storage at once by ListTask


class SessionWatch:
    """A registered watch on one session's terminal tasks; use as a context manager."""

    def __init__(self, watchers: Watchers, sid: str) -> None:
        self._watchers = watchers
        self.session_id = sid
        self._queue: asyncio.Queue[Task | None] = watchers.watch_session(sid)

    def __enter__(self) -> SessionWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._watchers.unwatch_session(self.session_id, self._queue)

    async def batches(self, most: int) -> AsyncIterator[list[Task]]:
        """What is ready (waiting for at least one), up to ``most`` at a time, until drained."""
        q = self._queue
        while True:
            item = await q.get()
            batch = []
            while item is not None:
                batch.append(item)
                if len(batch) >= most or q.empty():
                    break
                item = q.get_nowait()
            if batch:
                yield batch
            if item is None:
                return


class TasksView:
    def __init__(self, core: Core, storage: Storage, watchers: Watchers) -> None:
        self._core = core
        self._storage = storage
        self._watchers = watchers

    def get(self, sid: str, tid: str) -> Task:
        rec = self._core.find_task(sid, tid)
        if rec is not None:
            return rec.snapshot()
        found = self._storage.load_tasks(sid, int(tid), int(tid))
        if not found:
            raise NotFoundError(f"task {tid!r} not found in session {sid!r}")
        return found[0]

    def list(self, sid: str) -> Iterator[Task]:
        ses = self._core.get_session(sid)
        end = ses.next_task_id
        for first in range(1, end, LIST_CHUNK):
            last = min(first + LIST_CHUNK, end) - 1
            stored = {int(t.id): t for t in self._storage.load_tasks(sid, first, last)}
            # the whole chunk at once: a task forgotten while the caller streams cannot show up
            # with the older state read from storage before it finished
            chunk = []
            for num in range(first, last + 1):
                rec = ses.tasks.get(num)
                if rec is not None:
                    chunk.append(rec.snapshot())
                elif num in stored:
                    chunk.append(stored[num])
            yield from chunk

    async def watch(self, sid: str, tid: str) -> AsyncIterator[Task]:
        rec = self._core.find_task(sid, tid)
        if rec is None:  # finished: its final state is in storage
            yield self.get(sid, tid)
            return
        q = self._watchers.watch_task(sid, rec.task_id)
        try:
            last = rec.snapshot()
            yield last
            while not last.state.is_terminal:
                nxt = await q.get()
                if nxt.state == last.state and len(nxt.events) == len(last.events):
                    continue
                last = nxt
                yield last
        finally:
            self._watchers.unwatch_task(sid, rec.task_id, q)

    async def final(self, sid: str, tid: str) -> Task:
        """The task's terminal state, once it is durable (RunTask: one wake-up, no stream)."""
        waiter: asyncio.Future[Task] = asyncio.get_running_loop().create_future()

        def resolve(task: Task) -> None:
            if not waiter.done():
                waiter.set_result(task)

        forget = self.when_final(sid, tid, resolve)
        try:
            return await waiter
        finally:
            forget()

    def when_final(self, sid: str, tid: str, callback: Callable[[Task], None]) -> Callable[[], None]:
        """``callback(task)`` once the task's terminal state is durable: as it is published, or at
        once when it already is; returns a function that forgets the callback."""
        rec = self._core.find_task(sid, tid)
        if rec is None or rec.state.is_terminal:  # finished: in storage, or not yet forgotten
            callback(self.get(sid, tid) if rec is None else rec.snapshot())
            return _nothing
        self._watchers.on_final(sid, rec.task_id, callback)
        return partial(self._watchers.drop_final, sid, rec.task_id, callback)

    def watch_session(self, sid: str) -> SessionWatch | None:
        ses = self._core.get_session(sid)
        if ses.state == SessionState.CLOSED and ses.unfinished == 0:
            return None
        return SessionWatch(self._watchers, ses.id)


def _nothing() -> None:
    return None
