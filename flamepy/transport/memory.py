"""An in-memory :class:`~flamepy.transport.base.Transport`: a small session manager in one object,
for SDK tests without any server (``Connection.over(MemoryTransport())``).

Tasks run as they are created: ``behaviour(input)`` returns their outcome (default :func:`echo`),
or None to leave them Pending until a test calls :meth:`MemoryTransport.complete`. Tests can make a
method raise (``fail[name] = error``; or only its next calls: ``faults[name] = [error, ...]``, one
each; or do its work and lose the answer: ``lost_replies[name] = [error, ...]``), break session
watches, hold a CreateTasks answer
(``before_create_tasks_reply``), send watch registrations late (``headers_early=False``), act as a
server without a session-wide watch (``session_watch=False``), and read ``counters`` of calls.

Concurrency model: thread-safe; one ``Condition`` guards all state; streams wait on it (or on a
queue per session watch) and are woken by every change.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from flamepy.errors import (
    AlreadyExistsError,
    FlameError,
    InvalidStateError,
    NotFoundError,
)
from flamepy.taskprobe import TaskStats
from flamepy.transport.base import SessionInfo, TaskWatcher, Transport
from flamepy.transport.memory_cancel import cancel_task as _cancel_task
from flamepy.transport.memory_faults import ClusterView, FaultInjection
from flamepy.transport.memory_logs import read_task_log as _read_task_log
from flamepy.transport.memory_policy import set_retry_policy as _set_retry_policy
from flamepy.transport.memory_policy import set_session_placement as _set_session_placement
from flamepy.transport.memory_probe import exec_in_task as _exec_in_task
from flamepy.transport.memory_probe import task_stats as _task_stats
from flamepy.transport.memory_streams import END, MemorySessionWatch, follow_task
from flamepy.transport.per_task import PerTaskWatch
from flamepy.types import (
    Application,
    ApplicationAttributes,
    Event,
    RetryPolicy,
    SessionAttributes,
    SessionState,
    SessionStatus,
    Task,
    TaskCompletion,
    TaskState,
)

Outcome = tuple[TaskState, bytes | None, str | None]


def echo(data: bytes | None) -> Outcome | None:
    """``b"fail"`` fails, ``b"cancel"`` is cancelled, ``b"pending"`` stays Pending, the rest echo."""
    if data == b"fail":
        return (TaskState.FAILED, None, "ValueError: bad input")
    if data == b"cancel":
        return (TaskState.CANCELLED, None, "cancelled by the service")
    if data == b"pending":
        return None
    return (TaskState.SUCCEED, data, None)


def _now() -> int:
    return int(time.time() * 1000)


class MemoryTransport(FaultInjection, ClusterView):
    def __init__(
        self,
        behaviour: Callable[[bytes | None], Outcome | None] = echo,
        *,
        session_watch: bool = True,
        headers_early: bool = True,
        endpoint: str = "memory://",
        retry_deadline: float = 0.0,
    ) -> None:
        self.endpoint = endpoint
        self.retry_deadline = retry_deadline
        self.keyed = session_watch  # idempotency keys come with CreateTasks (FrontendExt)
        self.behaviour = behaviour
        self.session_watch = session_watch
        self.headers_early = headers_early
        self.cond = threading.Condition()
        self.apps: dict[str, Application] = {}
        self.sessions: dict[str, SessionInfo] = {}
        self.tasks: dict[str, dict[str, Task]] = {}
        self.init_faults()
        self.keys: dict[str, dict[str, str]] = {}  # session -> idempotency key -> task id
        self.policies: dict[tuple[str, str], RetryPolicy] = {}  # (kind, name) -> policy
        self.placements: dict[str, bool] = {}  # session id -> spread
        self.task_logs: dict[tuple[str, str], bytes] = {}  # (session, task) -> its job log's bytes
        self.task_stats_of: dict[tuple[str, str], TaskStats] = {}  # see memory_probe
        self.task_exec: dict[tuple[str, str], Callable[[list[str]], tuple[int, bytes]]] = {}
        self.before_create_tasks_reply: Callable[[list[str]], object] | None = None
        self._ids: dict[str, itertools.count[int]] = {}
        self._watches: dict[str, list[queue.SimpleQueue[object]]] = {}
        self._headers_early: bool | None = None
        self._closed = False

    # -- test controls ---------------------------------------------------------------------------

    def complete(self, session_id: str, task_id: str, outcome: Outcome) -> None:
        """Finish a task (Pending or Running) with ``outcome``."""
        with self.cond:
            self._finish(session_id, self.tasks[session_id][task_id], outcome)

    def set_state(self, session_id: str, task_id: str, state: TaskState) -> None:
        with self.cond:
            task = self.tasks[session_id][task_id]
            self.tasks[session_id][task_id] = replace(task, state=state)
            self.cond.notify_all()

    def break_watches(self, session_id: str, error: FlameError) -> None:
        """Every session watch of ``session_id`` raises ``error``; no later completion reaches it."""
        with self.cond:
            watches, self._watches[session_id] = self._watches.get(session_id, []), []
        for q in watches:
            q.put(error)

    # -- lifecycle and capabilities --------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self.cond:
            self._closed = True
            self.cond.notify_all()

    def __enter__(self) -> MemoryTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def watch_headers_early(self) -> bool | None:
        return self._headers_early

    def learn_watch_headers_early(self, early: bool) -> None:
        with self.cond:
            if self._headers_early is None:
                self._headers_early = early

    @property
    def keyed_submit(self) -> bool | None:
        return self.keyed

    # -- applications ----------------------------------------------------------------------------

    def register_application(self, name: str, attrs: ApplicationAttributes) -> None:
        with self.cond:
            self._enter("register_application")
            if name in self.apps:
                raise AlreadyExistsError(f"register application {name!r}: application {name} already exists")
            self.apps[name] = Application(name, attrs, creation_time=_now())

    def unregister_application(self, name: str) -> None:
        with self.cond:
            self._enter("unregister_application")
            if self.apps.pop(name, None) is None:
                raise NotFoundError(f"unregister application {name!r}: application {name} not found")

    def update_application(self, name: str, attrs: ApplicationAttributes) -> None:
        with self.cond:
            self._enter("update_application")
            self.apps[name] = replace(self._app(name), attributes=attrs)

    def get_application(self, name: str) -> Application:
        with self.cond:
            self._enter("get_application")
            return self._app(name)

    def _app(self, name: str) -> Application:
        app = self.apps.get(name)
        if app is None:
            raise NotFoundError(f"application {name} not found")
        return app

    def list_applications(self) -> list[Application]:
        with self.cond:
            self._enter("list_applications")
            return list(self.apps.values())

    # -- sessions --------------------------------------------------------------------------------

    def create_session(self, session_id: str, attrs: SessionAttributes) -> SessionInfo:
        with self.cond:
            self._enter("create_session")
            if session_id in self.sessions:
                raise AlreadyExistsError(
                    f"create session {session_id!r}: session {session_id} already exists"
                )
            info = (replace(attrs, id=session_id), SessionStatus(SessionState.OPEN, _now()))
            self.sessions[session_id] = info
            self.tasks[session_id] = {}
            self._ids[session_id] = itertools.count(1)
            return info

    def open_session(self, session_id: str, spec: SessionAttributes | None) -> SessionInfo:
        with self.cond:
            if session_id not in self.sessions and spec is not None:
                return self.create_session(session_id, spec)
            self._enter("open_session")
            attrs, status = self._session(session_id)
            if status.state == SessionState.CLOSED:
                raise InvalidStateError(f"open session {session_id!r}: session {session_id} is not open")
            return attrs, status

    def get_session(self, session_id: str) -> SessionInfo:
        with self.cond:
            self._enter("get_session")
            return self._session(session_id)

    def list_sessions(self) -> list[SessionInfo]:
        with self.cond:
            self._enter("list_sessions")
            return [self._session(sid) for sid in self.sessions]

    def close_session(self, session_id: str) -> SessionInfo:
        with self.cond:
            self._enter("close_session")
            attrs, status = self._session(session_id)
            if status.state != SessionState.CLOSED:
                for task in list(self.tasks[session_id].values()):
                    if task.state == TaskState.PENDING:
                        self._finish(session_id, task, (TaskState.CANCELLED, None, "session closed"))
                status = replace(status, state=SessionState.CLOSED, completion_time=_now())
                self.sessions[session_id] = (attrs, status)
                for q in self._watches.pop(session_id, []):
                    q.put(END)
            return self._session(session_id)

    def _session(self, session_id: str) -> SessionInfo:
        info = self.sessions.get(session_id)
        if info is None:
            raise NotFoundError(f"session {session_id} not found")
        attrs, status = info
        n = Counter(t.state for t in self.tasks[session_id].values())
        return attrs, replace(
            status,
            pending=n[TaskState.PENDING],
            running=n[TaskState.RUNNING],
            succeed=n[TaskState.SUCCEED],
            failed=n[TaskState.FAILED],
            cancelled=n[TaskState.CANCELLED],
        )

    # -- tasks -----------------------------------------------------------------------------------

    def create_task(self, session_id: str, data: bytes | None) -> Task:
        with self.cond:
            self._enter("create_task")
            return self._new_task(session_id, data)

    def create_tasks(
        self, session_id: str, inputs: list[bytes | None], keys: list[str] | None = None
    ) -> tuple[list[str], FlameError | None]:
        if not self.session_watch:  # a plain flame.v1 server: one CreateTask per input
            ids: list[str] = []
            for data in inputs:
                try:
                    ids.append(self.create_task(session_id, data).id)
                except FlameError as err:
                    return ids, err
            return ids, None
        with self.cond:
            try:
                self._enter("create_tasks")
            except FlameError as err:
                return [], err
            self.counters["create_tasks_inputs"] += len(inputs)
            try:
                ids = [
                    self._new_keyed(session_id, data, None if keys is None else keys[i])
                    for i, data in enumerate(inputs)
                ]
                self._lose_reply("create_tasks")
            except FlameError as err:
                return [], err
        if self.before_create_tasks_reply is not None:
            self.before_create_tasks_reply(ids)
        return ids, None

    def run_task(self, session_id: str, data: bytes | None) -> Task:
        with self.cond:
            self._enter("run_task")
            task = self._new_task(session_id, data)
            self.cond.wait_for(lambda: self.task(session_id, task.id).state.is_terminal or self._closed)
            return self.task(session_id, task.id)

    def get_task(self, session_id: str, task_id: str) -> Task:
        with self.cond:
            self._enter("get_task")
            return self.task(session_id, task_id)

    cancel_task = _cancel_task
    read_task_log = _read_task_log
    task_stats = _task_stats
    exec_in_task = _exec_in_task
    set_retry_policy = _set_retry_policy
    set_session_placement = _set_session_placement

    def list_tasks(self, session_id: str) -> TaskWatcher:
        with self.cond:
            self._enter("list_tasks")
            tasks = list(self.tasks.get(session_id, {}).values())
        return TaskWatcher(iter(tasks), lambda: None)

    def watch_task(self, session_id: str, task_id: str, timeout: float | None = None) -> TaskWatcher:
        with self.cond:
            self._enter("watch_task")
            self.task(session_id, task_id)
        cancelled = threading.Event()

        def cancel() -> None:
            cancelled.set()
            with self.cond:
                self.cond.notify_all()

        return TaskWatcher(follow_task(self, session_id, task_id, timeout, cancelled), cancel)

    def watch_session(self, session_id: str) -> PerTaskWatch | MemorySessionWatch:
        if not self.session_watch:
            return PerTaskWatch(session_id, lambda tid: self.watch_task(session_id, tid))
        return MemorySessionWatch(self, session_id)

    def task(self, session_id: str, task_id: str) -> Task:
        """The task as it is now (not a call: not counted); NotFoundError when there is none."""
        task = self.tasks.get(session_id, {}).get(task_id)
        if task is None:
            raise NotFoundError(f"task {task_id} of session {session_id!r} not found")
        return task

    def _new_keyed(self, session_id: str, data: bytes | None, key: str | None) -> str:
        """The id of a new task, or of the task created earlier with ``key``."""
        if not key or not self.keyed:
            return self._new_task(session_id, data).id
        known = self.keys.setdefault(session_id, {})
        tid = known.get(key)
        if tid is None:
            tid = known[key] = self._new_task(session_id, data).id
        else:
            self.counters["create_tasks_deduped"] += 1
        return tid

    def _new_task(self, session_id: str, data: bytes | None) -> Task:
        _, status = self._session(session_id)
        if status.state == SessionState.CLOSED:
            raise InvalidStateError(
                f"create task in session {session_id!r}: session {session_id} is not open"
            )
        tid = str(next(self._ids[session_id]))
        task = Task(tid, session_id, TaskState.PENDING, input=data, creation_time=_now(), events=(Event(0),))
        self.tasks[session_id][tid] = task
        self.cond.notify_all()
        outcome = self.behaviour(data)
        if outcome is not None:
            task = self._finish(session_id, task, outcome)
        return task

    def _finish(self, session_id: str, task: Task, outcome: Outcome) -> Task:
        state, output, message = outcome
        event = Event(int(state), message, _now())
        done = replace(task, state=state, output=output, completion_time=_now(), events=(*task.events, event))
        self.tasks[session_id][task.id] = done
        completion = TaskCompletion(task.id, state, output, message)
        for q in self._watches.get(session_id, []):
            q.put(completion)
        self.cond.notify_all()
        return done

    def register_watch(self, session_id: str) -> queue.SimpleQueue[object]:
        """A queue that gets the session's completions from now on (the WatchSession call)."""
        with self.cond:
            self._enter("watch_session")
            self._session(session_id)
            q: queue.SimpleQueue[object] = queue.SimpleQueue()
            self._watches.setdefault(session_id, []).append(q)
            return q

    def drop_watch(self, session_id: str, q: queue.SimpleQueue[object]) -> None:
        with self.cond:
            if q in self._watches.get(session_id, []):
                self._watches[session_id].remove(q)


if TYPE_CHECKING:

    def _is_a_transport(t: MemoryTransport) -> Transport:  # mypy checks the protocol here
        return t
