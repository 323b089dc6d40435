"""Fan-out of task changes to WatchTask / WatchSession / RunTask streams (event-driven, no polling).

Single-threaded: used only from the server's event loop. Subscribers get ``asyncio.Queue``s;
a session queue receives terminal task snapshots and ``None`` when the session is drained
(closed with nothing left unfinished) or deleted.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from flamepy.types import Task
from session_manager.effects import Outbox


class Watchers:
    def __init__(self) -> None:
        self._tasks: defaultdict[tuple[str, str], set[asyncio.Queue[Task]]] = defaultdict(set)
        self._sessions: defaultdict[str, set[asyncio.Queue[Task | None]]] = defaultdict(set)
        self._finals: dict[tuple[str, str], list[asyncio.Future[Task]]] = {}  # RunTask waiters

    def watch_task(self, sid: str, tid: str) -> asyncio.Queue[Task]:
        q: asyncio.Queue[Task] = asyncio.Queue()
        self._tasks[(sid, tid)].add(q)
        return q

    def unwatch_task(self, sid: str, tid: str, q: asyncio.Queue[Task]) -> None:
        subs = self._tasks.get((sid, tid))
        if subs is not None:
            subs.discard(q)
            if not subs:
                del self._tasks[(sid, tid)]

    def wait_final(self, sid: str, tid: str) -> asyncio.Future[Task]:
        """A future resolved with the task's terminal snapshot when it is published."""
        fut: asyncio.Future[Task] = asyncio.get_running_loop().create_future()
        self._finals.setdefault((sid, tid), []).append(fut)
        return fut

    def drop_final(self, sid: str, tid: str, fut: asyncio.Future[Task]) -> None:
        waiting = self._finals.get((sid, tid))
        if waiting is not None and fut in waiting:
            waiting.remove(fut)
            if not waiting:
                del self._finals[(sid, tid)]

    def watch_session(self, sid: str) -> asyncio.Queue[Task | None]:
        q: asyncio.Queue[Task | None] = asyncio.Queue()
        self._sessions[sid].add(q)
        return q

    def unwatch_session(self, sid: str, q: asyncio.Queue[Task | None]) -> None:
        subs = self._sessions.get(sid)
        if subs is not None:
            subs.discard(q)
            if not subs:
                del self._sessions[sid]

    def publish(self, out: Outbox) -> None:
        for task in out.tasks_changed:
            for q in self._tasks.get((task.session_id, task.id), ()):
                q.put_nowait(task)
            if task.state.is_terminal:
                for sq in self._sessions.get(task.session_id, ()):
                    sq.put_nowait(task)
                for fut in self._finals.pop((task.session_id, task.id), ()):
                    if not fut.done():
                        fut.set_result(task)
        for sid in out.sessions_drained:
            for sq in self._sessions.get(sid, ()):
                sq.put_nowait(None)
