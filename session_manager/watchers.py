"""Fan-out of task changes to WatchTask / WatchSession / RunTask streams (event-driven, no polling).

Single-threaded: used only from the server's event loop. Subscribers get ``asyncio.Queue``s;
a session queue receives terminal task snapshots and ``None`` when the session is drained
(closed with nothing left unfinished) or deleted.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable

from flamepy.types import Task
from session_manager.effects import Outbox

log = logging.getLogger(__name__)


class Watchers:
    def __init__(self) -> None:
        self._tasks: defaultdict[tuple[str, str], set[asyncio.Queue[Task]]] = defaultdict(set)
        self._sessions: defaultdict[str, set[asyncio.Queue[Task | None]]] = defaultdict(set)
        self._finals: dict[tuple[str, str], list[Callable[[Task], None]]] = {}  # RunTask waiters

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

    def on_final(self, sid: str, tid: str, callback: Callable[[Task], None]) -> None:
        """``callback(task)`` with the task's terminal snapshot, called as it is published."""
        self._finals.setdefault((sid, tid), []).append(callback)

    def drop_final(self, sid: str, tid: str, callback: Callable[[Task], None]) -> None:
        waiting = self._finals.get((sid, tid))
        if waiting is not None and callback in waiting:
            waiting.remove(callback)
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
                for callback in self._finals.pop((task.session_id, task.id), ()):
                    try:
                        callback(task)
                    except Exception:  # one waiter's bug must not keep the others waiting
                        log.exception("a RunTask waiter of task %s/%s failed", task.session_id, task.id)
        for sid in out.sessions_drained:
            for sq in self._sessions.get(sid, ()):
                sq.put_nowait(None)
