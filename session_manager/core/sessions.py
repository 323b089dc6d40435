"""Sessions and their tasks: open/close/delete, task creation, dealing tasks to bound executors.

Sans-IO functions of :class:`~session_manager.core.state.CoreState`, called by ``Core.handle``.
Memory holds only unfinished tasks: a finished one leaves once its terminal state is durable
(:func:`tasks_durable`); the shell reads finished tasks back from storage.

Dealing: each executor of a session holds up to ``window`` tasks. Once the session's tasks are
seen to be short (at most ``SHORT_TASK_S``), that is the one running plus about ``QUEUED_WORK_S``
of work (capped by ``prefetch``), so the next task is already there when one ends; else one, so a
long task never waits behind another on a busy executor while a free one could take it. A spread
session's executors hold one task each (its ranks run side by side, one per node).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from flamepy.errors import AlreadyExistsError, InvalidArgumentError, InvalidStateError, NotFoundError
from flamepy.types import (
    MAX_TASK_DATA_BYTES,
    ApplicationState,
    Event,
    EventCode,
    ExecutorState,
    SessionAttributes,
    SessionState,
    Task,
    TaskState,
)
from session_manager import effects, events, validate
from session_manager.core import failures
from session_manager.core.state import TASK_DEADLINE, CoreState
from session_manager.model import ExecutorRecord, SessionRecord, TaskRecord

MAX_KEY_CHARS = 256  # of a task's idempotency key
SHORT_TASK_S = 0.010
QUEUED_WORK_S = 0.002
_SPEC_FIELDS = (
    "application",
    "common_data",
    "min_instances",
    "max_instances",
    "batch_size",
    "priority",
    "resreq",
)


def get(st: CoreState, sid: str) -> SessionRecord:
    ses = st.sessions.get(sid)
    if ses is None:
        raise NotFoundError(f"session {sid!r} not found")
    return ses


# -- sessions ------------------------------------------------------------------------------------


def create(st: CoreState, ev: events.CreateSession) -> SessionRecord:
    return _create(st, ev.attrs)


def _create(st: CoreState, attrs: SessionAttributes) -> SessionRecord:
    sid = validate.session_id(attrs.id or "")
    if sid in st.sessions:
        raise AlreadyExistsError(f"session {sid!r} already exists")
    app = st.apps.get(attrs.application)
    if app is None:
        raise NotFoundError(f"application {attrs.application!r} not found")
    if app.state != ApplicationState.ENABLED:
        raise InvalidStateError(f"application {attrs.application!r} is disabled")
    if attrs.max_instances is not None and attrs.max_instances < 1:
        raise InvalidArgumentError(f"session {sid!r}: max_instances must be at least 1")
    if attrs.max_instances is not None and attrs.min_instances > attrs.max_instances:
        raise InvalidArgumentError(
            f"session {sid!r}: min_instances ({attrs.min_instances}) exceeds "
            f"max_instances ({attrs.max_instances})"
        )
    ses = SessionRecord(id=sid, attrs=attrs, state=SessionState.OPEN, creation_time=st.clock.ms())
    st.sessions[sid] = ses
    st.save_session(ses)
    st.schedule_needed = True
    st.resources_check_needed = True
    return ses


def open_(st: CoreState, ev: events.OpenSession) -> SessionRecord:
    sid, attrs = ev.session_id, ev.attrs
    ses = st.sessions.get(sid)
    if ses is None:
        if attrs is None:
            raise NotFoundError(f"session {sid!r} not found")
        return _create(st, replace(attrs, id=sid))
    if ses.state != SessionState.OPEN:
        raise InvalidStateError(f"session {sid!r} is not open")
    if attrs is not None:
        for name in _SPEC_FIELDS:
            have, asked = getattr(ses.attrs, name), getattr(attrs, name)
            if have != asked:
                raise InvalidArgumentError(
                    f"spec mismatch for session {sid!r}: {name} is {have!r}, requested {asked!r}"
                )
    return ses


def close(st: CoreState, ev: events.CloseSession) -> SessionRecord:
    """Idempotent. Pending tasks are cancelled; running tasks finish; idle executors are released."""
    ses = get(st, ev.session_id)
    if ses.state == SessionState.CLOSED:
        return ses
    st.close(ses)
    while ses.pending:
        st.task_to(ses, ses.tasks[ses.pending.popleft()], TaskState.CANCELLED, "session closed")
    st.save_session(ses)
    for eid in list(ses.executors):
        ex = st.executors[eid]
        if ex.state == ExecutorState.BOUND and not ex.inflight:
            st.release(ex)
    st.maybe_drained(ses)
    st.schedule_needed = True
    return ses


def delete(st: CoreState, ev: events.DeleteSession) -> SessionRecord:
    """Close, cancel what still runs (its watchers get a terminal state; its executor stops the
    service), release, forget."""
    ses = close(st, events.CloseSession(ev.session_id))
    for rec in list(ses.tasks.values()):
        if rec.state == TaskState.RUNNING:
            _cancel_running(st, ses, rec, "session deleted")
    for eid in list(ses.executors):
        ex = st.executors[eid]
        if ex.state == ExecutorState.BOUND:
            st.release(ex)
    del st.sessions[ses.id]
    st.out.records.append(effects.DeleteSession(ses.id))
    st.out.sessions_drained.append(ses.id)
    return ses


# -- tasks ---------------------------------------------------------------------------------------


def create_tasks(st: CoreState, ev: events.CreateTasks) -> list[TaskRecord]:
    return [r for r in _create_tasks(st, ev.session_id, ev.inputs, ()) if isinstance(r, TaskRecord)]


def create_keyed_tasks(st: CoreState, ev: events.CreateKeyedTasks) -> list[str]:
    """Like ``create_tasks``, but an input whose idempotency key the session has seen gives the id
    of the task created with it instead of a new task (a retried submission)."""
    made = _create_tasks(st, ev.session_id, ev.inputs, ev.keys)
    return [r.task_id if isinstance(r, TaskRecord) else str(r) for r in made]


def _create_tasks(
    st: CoreState, sid: str, inputs: Sequence[bytes | None], keys: Sequence[str | None]
) -> list[TaskRecord | int]:
    ses = get(st, sid)
    if ses.state != SessionState.OPEN:
        raise InvalidStateError(f"session {sid!r} is not open")
    for key in keys:
        if key is not None and len(key) > MAX_KEY_CHARS:
            raise InvalidArgumentError(
                f"idempotency key of {len(key)} characters exceeds the limit of {MAX_KEY_CHARS}"
            )
    for data in inputs:
        if data is not None and len(data) > MAX_TASK_DATA_BYTES:
            raise InvalidArgumentError(
                f"task input of {len(data)} bytes exceeds the {MAX_TASK_DATA_BYTES} byte limit of one "
                f"task (session {sid!r}); put large data in the object cache and pass a reference"
            )
    now = st.clock.ms()
    created: list[TaskRecord | int] = []
    records = st.out.records
    for i, data in enumerate(inputs):
        key = keys[i] if i < len(keys) else None
        if key and key in ses.keys:
            created.append(ses.keys[key])
            continue
        rec = TaskRecord(
            id=ses.next_task_id,
            session_id=sid,
            state=TaskState.PENDING,
            input=data,
            creation_time=now,
            events=[Event(EventCode.PENDING, "task created", now)],
        )
        ses.next_task_id += 1
        ses.tasks[rec.id] = rec
        ses.pending.append(rec.id)
        ses.counts[TaskState.PENDING] += 1
        if key:
            ses.keys[key] = rec.id
        records.append(effects.InsertTask(rec.snapshot(), key or None))
        created.append(rec)
    if ses.failure is not None:  # it can never run them: they fail at once, with the cause
        failures.fail_pending(st, ses)
        return created
    dispatch_session(st, ses)
    if ses.pending:
        st.schedule_needed = True
        st.resources_check_needed = st.resources_check_needed or ses.spread  # may need more nodes
    return created


def cancel_task(st: CoreState, ev: events.CancelTask) -> Task | None:
    """Pending: Cancelled at once. Running: Cancelled at once, and its executor stops the service
    (``CancelCmd``). Finished: as it is (idempotent). None: finished and only in storage."""
    rec = find_task(st, ev.session_id, ev.task_id)
    if rec is None:
        return None
    ses = get(st, ev.session_id)
    if rec.state == TaskState.PENDING:
        ses.pending.remove(rec.id)
        st.task_to(ses, rec, TaskState.CANCELLED, ev.reason)
    elif rec.state == TaskState.RUNNING:
        _cancel_running(st, ses, rec, ev.reason)
    return rec.snapshot()


def _cancel_running(st: CoreState, ses: SessionRecord, rec: TaskRecord, reason: str) -> None:
    eid, attempt = rec.executor_id, rec.attempt
    st.task_to(ses, rec, TaskState.CANCELLED, reason)
    ex = st.executors.get(eid) if eid is not None else None
    if ex is not None:
        st.out.commands.append(effects.CancelCmd(ex.node, ex.id, ses.id, str(rec.id), attempt, reason))


def find_task(st: CoreState, sid: str, tid: str) -> TaskRecord | None:
    """The task's record, or None when it is finished and only in storage; NotFoundError when
    the session never had such a task."""
    num = validate.task_id(tid)
    ses = get(st, sid)
    rec = ses.tasks.get(num)
    if rec is None and not 0 < num < ses.next_task_id:
        raise NotFoundError(f"task {tid!r} not found in session {sid!r}")
    return rec


def tasks_durable(st: CoreState, ev: events.TasksDurable) -> None:
    """Drop the records of tasks whose terminal state is now durable."""
    for t in ev.tasks:
        if t.state.is_terminal:
            ses = st.sessions.get(t.session_id)
            if ses is not None:
                rec = ses.tasks.get(int(t.id))
                if rec is not None and rec.state.is_terminal:
                    del ses.tasks[rec.id]


# -- dealing tasks to executors ------------------------------------------------------------------


def window(st: CoreState, ses: SessionRecord) -> int:
    """How many tasks one executor of ``ses`` may hold (see the module docstring)."""
    t = ses.task_time
    if t is None or t > SHORT_TASK_S or ses.spread:  # spread: ranks never queue behind each other
        return 1
    ahead = math.ceil(round(QUEUED_WORK_S / t, 6)) if t > 0 else st.prefetch
    return min(st.prefetch, max(2, 1 + ahead))


def dispatch_session(st: CoreState, ses: SessionRecord) -> None:
    """Deal pending tasks round-robin, one per executor per round, up to the window."""
    size = window(st, ses)
    executors = sorted((st.executors[e] for e in ses.executors), key=lambda ex: len(ex.inflight))
    for depth in range(1, size + 1):
        for ex in executors:
            if not ses.pending:
                return
            if ex.state == ExecutorState.BOUND and len(ex.inflight) < depth:
                _push(st, ex, ses)


def dispatch(st: CoreState, ex: ExecutorRecord, ses: SessionRecord) -> None:
    """Top ``ex`` up to the session's window."""
    size = window(st, ses)
    while ex.state == ExecutorState.BOUND and len(ex.inflight) < size and ses.pending:
        _push(st, ex, ses)


def _push(st: CoreState, ex: ExecutorRecord, ses: SessionRecord) -> None:
    if not ex.inflight:
        ex.head_since = st.clock.mono()
    rec = ses.tasks[ses.pending.popleft()]
    rec.executor_id, rec.node, rec.ran_on = ex.id, ex.node, ex.node
    rec.attempt += 1
    ex.inflight.append(rec.id)
    text = f"running on executor {ex.id} (node {ex.node}), attempt {rec.attempt}"
    st.task_to(ses, rec, TaskState.RUNNING, text)
    timeout = st.policy(ses).task_timeout
    cmd = effects.InvokeCmd(ex.node, ex.id, ses.id, str(rec.id), rec.input, rec.attempt, timeout)
    st.out.commands.append(cmd)
    if timeout is not None:  # backstop: the tasks ahead of it end within their timeouts too
        due = st.clock.mono() + timeout * len(ex.inflight) + st.stop_timeout
        st.add_deadline(due, TASK_DEADLINE, ex.id, rec.id, rec.attempt, timeout)
