"""The broker core: applications, sessions, tasks, nodes and executors — sans-IO.

Every public method is synchronous, mutates in-memory records and leaves its side effects in
``self.out`` (records to persist, commands for executor managers, task changes to notify). The
asyncio shell drains the outbox after each call. The core is single-threaded: only the shell's
event loop calls it. No I/O, no clocks other than the injected one, no randomness other than ids.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from flamepy.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    InvalidStateError,
    NotFoundError,
)
from flamepy.types import (
    MAX_TASK_DATA_BYTES,
    Application,
    ApplicationAttributes,
    ApplicationState,
    Event,
    EventCode,
    ExecutorState,
    NodeState,
    ResourceRequirement,
    SessionAttributes,
    SessionState,
    Shim,
    Task,
    TaskState,
)
from session_manager import effects, scheduler, states, validate
from session_manager.clock import Clock
from session_manager.model import AppRecord, ExecutorRecord, NodeRecord, SessionRecord, TaskRecord

log = logging.getLogger(__name__)

DEFAULT_RESREQ = ResourceRequirement(cpu=1, memory=0, gpu=0)
MAX_SESSION_EVENTS = 100
# Tasks of a session whose average time at an executor is at most this get pushed ahead; longer
# ones go one at a time, so none queues behind a long one while another executor could take it.
SHORT_TASK_S = 0.010
# How much work (by the session's average) is pushed ahead to one executor beyond the task it runs:
# enough to cover the round trip of a result and the next push, little enough that the last tasks
# of a session do not wait on one executor while another is idle. ``prefetch`` caps it in tasks.
QUEUED_WORK_S = 0.002
_AVERAGE_WEIGHT = 0.2  # of the newest observation in a session's moving average of task time
_SPEC_FIELDS = (
    "application",
    "common_data",
    "min_instances",
    "max_instances",
    "batch_size",
    "priority",
    "resreq",
)


class Broker:
    def __init__(
        self,
        clock: Clock | None = None,
        default_resreq: ResourceRequirement = DEFAULT_RESREQ,
        default_delay_release: float = 60.0,
        prefetch: int = 16,
    ) -> None:
        self.clock = clock or Clock()
        self.default_resreq = default_resreq
        self.default_delay_release = default_delay_release
        self.prefetch = max(1, prefetch)
        self.apps: dict[str, AppRecord] = {}
        self.sessions: dict[str, SessionRecord] = {}
        self.nodes: dict[str, NodeRecord] = {}
        self.executors: dict[str, ExecutorRecord] = {}
        self.out = effects.Outbox()
        self.schedule_needed = False

    def drain(self) -> effects.Outbox:
        out, self.out = self.out, effects.Outbox()
        return out

    # -- recovery ----------------------------------------------------------------------------

    def restore(
        self,
        apps: Iterable[Application],
        sessions: Iterable[effects.SaveSession],
        tasks: Iterable[Task],
        finished: Mapping[str, Mapping[TaskState, int]] | None = None,
    ) -> None:
        """Rebuild state from storage: the unfinished ``tasks`` (finished ones only count, like the
        ``finished`` counts: they stay in storage). Tasks that were running when the last process
        died run again."""
        for app in apps:
            self.apps[app.name] = AppRecord(app.name, app.attributes, app.state, app.creation_time)
        for s in sessions:
            self.sessions[s.id] = SessionRecord(
                id=s.id,
                attrs=s.attrs,
                state=s.state,
                creation_time=s.creation_time,
                completion_time=s.completion_time,
                events=list(s.events),
                next_task_id=s.next_task_id,
            )
        for t in sorted(tasks, key=lambda t: (t.session_id, int(t.id))):
            ses = self.sessions.get(t.session_id)
            if ses is None:
                continue
            ses.next_task_id = max(ses.next_task_id, int(t.id) + 1)
            if t.state.is_terminal:
                ses.counts[t.state] += 1
                continue
            rec = TaskRecord(
                id=int(t.id),
                session_id=t.session_id,
                state=t.state,
                input=t.input,
                creation_time=t.creation_time,
                output=t.output,
                completion_time=t.completion_time,
                events=list(t.events),
            )
            ses.tasks[rec.id] = rec
            if rec.state == TaskState.RUNNING:
                rec.state = TaskState.PENDING
                rec.events.append(self._event(EventCode.PENDING, "requeued after session manager restart"))
                self.out.records.append(effects.UpdateTask(rec.snapshot()))
            ses.counts[rec.state] += 1
            if rec.state == TaskState.PENDING:
                if ses.state == SessionState.OPEN:
                    ses.pending.append(rec.id)
                else:  # closed while the task was in flight: it can never run now
                    self._task_to(ses, rec, TaskState.CANCELLED, "session closed")
        for sid, counts in (finished or {}).items():
            ses = self.sessions.get(sid)
            if ses is not None:
                for state, n in counts.items():
                    ses.counts[state] += n
        self.schedule_needed = True

    def ensure_default_apps(self, defaults: Sequence[tuple[str, ApplicationAttributes]]) -> None:
        """Register the default applications on a fresh store (never overwrites)."""
        if self.apps:
            return
        for name, attrs in defaults:
            self.register_application(name, attrs)

    # -- applications ------------------------------------------------------------------------

    def register_application(self, name: str, attrs: ApplicationAttributes) -> AppRecord:
        validate.application_name(name)
        if name in self.apps:
            raise AlreadyExistsError(f"application {name!r} already exists")
        _check_app_attrs(name, attrs)
        rec = AppRecord(name, _normalise_attrs(attrs), ApplicationState.ENABLED, self.clock.ms())
        self.apps[name] = rec
        self.out.records.append(effects.SaveApp(rec.snapshot()))
        return rec

    def update_application(self, name: str, attrs: ApplicationAttributes) -> AppRecord:
        rec = self.get_application(name)
        _check_app_attrs(name, attrs)
        rec.attrs = _normalise_attrs(attrs)
        self.out.records.append(effects.SaveApp(rec.snapshot()))
        self.schedule_needed = True
        return rec

    def unregister_application(self, name: str) -> None:
        self.get_application(name)
        users = [
            s.id
            for s in self.sessions.values()
            if s.attrs.application == name and s.state == SessionState.OPEN
        ]
        if users:
            raise InvalidStateError(
                f"application {name!r} has {len(users)} open session(s) "
                f"({', '.join(users[:3])}); close them first"
            )
        del self.apps[name]
        self.out.records.append(effects.DeleteApp(name))

    def get_application(self, name: str) -> AppRecord:
        rec = self.apps.get(name)
        if rec is None:
            raise NotFoundError(f"application {name!r} not found")
        return rec

    # -- sessions ----------------------------------------------------------------------------

    def create_session(self, attrs: SessionAttributes) -> SessionRecord:
        sid = validate.session_id(attrs.id or "")
        if sid in self.sessions:
            raise AlreadyExistsError(f"session {sid!r} already exists")
        app = self.apps.get(attrs.application)
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
        ses = SessionRecord(id=sid, attrs=attrs, state=SessionState.OPEN, creation_time=self.clock.ms())
        self.sessions[sid] = ses
        self._save_session(ses)
        self.schedule_needed = True
        return ses

    def open_session(self, sid: str, attrs: SessionAttributes | None) -> SessionRecord:
        ses = self.sessions.get(sid)
        if ses is None:
            if attrs is None:
                raise NotFoundError(f"session {sid!r} not found")
            return self.create_session(replace(attrs, id=sid))
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

    def get_session(self, sid: str) -> SessionRecord:
        ses = self.sessions.get(sid)
        if ses is None:
            raise NotFoundError(f"session {sid!r} not found")
        return ses

    def close_session(self, sid: str) -> SessionRecord:
        """Idempotent. Pending tasks are cancelled; running tasks finish; executors are released."""
        ses = self.get_session(sid)
        if ses.state == SessionState.CLOSED:
            return ses
        states.check("session", sid, ses.state, SessionState.CLOSED)
        ses.state = SessionState.CLOSED
        ses.completion_time = self.clock.ms()
        while ses.pending:
            self._task_to(ses, ses.tasks[ses.pending.popleft()], TaskState.CANCELLED, "session closed")
        self._save_session(ses)
        for eid in list(ses.executors):
            ex = self.executors[eid]
            if ex.state == ExecutorState.BOUND and not ex.inflight:
                self._release(ex)
        self._maybe_drained(ses)
        self.schedule_needed = True
        return ses

    def delete_session(self, sid: str) -> SessionRecord:
        """Close, cancel what still runs (its watchers get a terminal state), release, forget."""
        ses = self.close_session(sid)
        for rec in ses.tasks.values():
            if rec.state == TaskState.RUNNING:
                self._task_to(ses, rec, TaskState.CANCELLED, "session deleted")
        for eid in list(ses.executors):
            ex = self.executors[eid]
            if ex.state == ExecutorState.BOUND:
                self._release(ex)
        del self.sessions[sid]
        self.out.records.append(effects.DeleteSession(sid))
        self.out.sessions_drained.append(sid)
        return ses

    # -- tasks -------------------------------------------------------------------------------

    def create_tasks(self, sid: str, inputs: Sequence[bytes | None]) -> list[TaskRecord]:
        ses = self.get_session(sid)
        if ses.state != SessionState.OPEN:
            raise InvalidStateError(f"session {sid!r} is not open")
        for data in inputs:
            if data is not None and len(data) > MAX_TASK_DATA_BYTES:
                raise InvalidArgumentError(
                    f"task input of {len(data)} bytes exceeds the {MAX_TASK_DATA_BYTES} byte limit of one "
                    f"task (session {sid!r}); put large data in the object cache and pass a reference"
                )
        now = self.clock.ms()
        created = []
        for data in inputs:
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
            self.out.records.append(effects.InsertTask(rec.snapshot()))
            created.append(rec)
        self._dispatch_session(ses)
        if ses.pending:
            self.schedule_needed = True
        return created

    def find_task(self, sid: str, tid: str) -> TaskRecord | None:
        """The task's record, or None when it is finished and only in storage; NotFoundError when
        the session never had such a task."""
        num = validate.task_id(tid)
        ses = self.get_session(sid)
        rec = ses.tasks.get(num)
        if rec is None and not 0 < num < ses.next_task_id:
            raise NotFoundError(f"task {tid!r} not found in session {sid!r}")
        return rec

    def forget_finished(self, tasks: Iterable[Task]) -> None:
        """Drop the records of tasks whose terminal state is now durable: memory holds only
        unfinished tasks; GetTask, ListTask and WatchTask read finished ones from storage."""
        for t in tasks:
            if t.state.is_terminal:
                ses = self.sessions.get(t.session_id)
                if ses is not None:
                    rec = ses.tasks.get(int(t.id))
                    if rec is not None and rec.state.is_terminal:
                        del ses.tasks[rec.id]

    # -- nodes and executors (events from executor managers) ---------------------------------

    def node_registered(
        self,
        name: str,
        capacity: ResourceRequirement,
        shims: Iterable[Shim],
        hostname: str = "",
        arch: str = "",
        os: str = "",
    ) -> NodeRecord:
        if name in self.nodes:
            self.node_lost(name)
        node = NodeRecord(
            name=name,
            capacity=capacity,
            allocatable=capacity,
            shims=frozenset(shims) or frozenset({Shim.HOST}),
            hostname=hostname or name,
            arch=arch,
            os=os,
            last_heartbeat_time=self.clock.ms(),
            free_gpus=list(range(capacity.gpu)),
        )
        self.nodes[name] = node
        self.schedule_needed = True
        log.info("node %s registered: %s", name, capacity)
        return node

    def node_heartbeat(self, name: str) -> None:
        node = self.nodes.get(name)
        if node is not None:
            node.last_heartbeat_time = self.clock.ms()

    def node_lost(self, name: str) -> None:
        """The node's stream ended: its executors are gone; their unfinished tasks run again."""
        node = self.nodes.get(name)
        if node is None:
            return
        for eid in list(node.executors):
            self._forget_executor(self.executors[eid], requeue_reason=f"node {name} disconnected")
        node.state = NodeState.NOT_READY
        node.allocatable = ResourceRequirement(0, 0, 0)
        self.schedule_needed = True
        log.info("node %s lost", name)

    def executor_bound(self, eid: str) -> None:
        ex = self.executors.get(eid)
        if ex is None:
            log.warning("bound report for unknown executor %s", eid)
            return
        self._executor_to(ex, ExecutorState.BOUND)
        ex.idle_since = self.clock.mono()
        ses = self.sessions.get(ex.session_id)
        if ses is None or ses.state != SessionState.OPEN:
            self._release(ex)
            return
        ses.bind_failures = 0
        self._dispatch(ex, ses)
        if not ex.inflight:
            self.schedule_needed = True

    def bind_failed(self, eid: str, message: str) -> None:
        ex = self.executors.get(eid)
        if ex is None:
            return
        ses = self.sessions.get(ex.session_id)
        if ses is not None:
            ses.bind_failures += 1
            ses.bind_retry_at = self.clock.mono() + min(30.0, 0.5 * 2 ** (ses.bind_failures - 1))
            text = f"failed to bind session {ses.id} on executor {eid} (node {ex.node}): {message}"
            ses.events.append(self._event(EventCode.BIND_FAILED, text))
            del ses.events[:-MAX_SESSION_EVENTS]
            self._save_session(ses)
            log.warning("%s", text)
        self._forget_executor(ex, requeue_reason="executor failed to bind")

    def task_result(
        self,
        eid: str,
        sid: str,
        tid: str,
        return_code: int,
        output: bytes | None,
        message: str | None,
        requeue: bool = False,
    ) -> None:
        ses = self.sessions.get(sid)
        ex = self.executors.get(eid)
        num = int(tid)
        if ex is not None and num in ex.inflight:
            now = self.clock.mono()
            if ses is not None and ex.inflight[0] == num and not requeue:
                ses.task_time = _average(ses.task_time, now - ex.head_since)
                ex.head_since = now
            ex.inflight.remove(num)
            if not ex.inflight:
                ex.idle_since = now
        rec = ses.tasks.get(num) if ses is not None else None
        if ses is None or rec is None or rec.state != TaskState.RUNNING or rec.executor_id != eid:
            log.debug("ignoring stale result of task %s/%s from %s", sid, tid, eid)
        elif requeue:
            self._requeue(ses, rec, message or f"executor {eid} gave the task back")
        elif return_code == 0:
            rec.output = output
            self._task_to(ses, rec, TaskState.SUCCEED, None)
        else:
            self._task_to(
                ses, rec, TaskState.FAILED, message or f"task failed with return code {return_code}"
            )
        if ex is None or ex.state != ExecutorState.BOUND:
            return
        if ses is None or ses.state != SessionState.OPEN:
            if not ex.inflight:
                self._release(ex)
            return
        self._dispatch(ex, ses)
        if not ex.inflight:
            self.schedule_needed = True

    def executor_released(self, eid: str, message: str | None = None) -> None:
        ex = self.executors.get(eid)
        if ex is None:
            return
        if message:
            log.warning("executor %s ended: %s", eid, message)
        self._forget_executor(ex, requeue_reason=message or f"executor {eid} released")

    # -- scheduling --------------------------------------------------------------------------

    def schedule(self) -> float | None:
        """Run one scheduling pass; return seconds until the next timer-based pass is due."""
        self.schedule_needed = False
        decision = scheduler.plan(
            self.sessions,
            self.apps,
            self.nodes,
            self.executors,
            self.clock.mono(),
            self.default_resreq,
            self.default_delay_release,
        )
        for eid in decision.release:
            ex = self.executors.get(eid)
            if ex is not None and ex.state == ExecutorState.BOUND:
                self._release(ex)
        for sid, node in decision.create:
            self._place(self.sessions[sid], self.nodes[node])
        return decision.wake_in

    # -- internals ---------------------------------------------------------------------------

    def _event(self, code: int, message: str | None) -> Event:
        return Event(code=int(code), message=message, creation_time=self.clock.ms())

    def _save_session(self, ses: SessionRecord) -> None:
        self.out.records.append(
            effects.SaveSession(
                ses.id,
                ses.attrs,
                ses.state,
                ses.creation_time,
                ses.completion_time,
                tuple(ses.events),
                ses.next_task_id,
            )
        )

    def _task_to(self, ses: SessionRecord, rec: TaskRecord, new: TaskState, message: str | None) -> None:
        states.check("task", f"task {rec.id} of session {ses.id}", rec.state, new)
        ses.counts[rec.state] -= 1
        ses.counts[new] += 1
        rec.state = new
        rec.events.append(self._event(int(new), message))
        if new.is_terminal:
            rec.completion_time = self.clock.ms()
            rec.executor_id = None
        snap = rec.snapshot()
        if new != TaskState.RUNNING:  # running is not persisted: a restart runs the task again anyway
            self.out.records.append(effects.UpdateTask(snap))
        self.out.tasks_changed.append(snap)
        if new.is_terminal:
            self._maybe_drained(ses)

    def _requeue(self, ses: SessionRecord, rec: TaskRecord, reason: str) -> None:
        if ses.state != SessionState.OPEN:
            self._task_to(ses, rec, TaskState.CANCELLED, f"session closed ({reason})")
            return
        self._task_to(ses, rec, TaskState.PENDING, f"requeued: {reason}")
        rec.executor_id = None
        ses.pending.appendleft(rec.id)
        self.schedule_needed = True

    def _maybe_drained(self, ses: SessionRecord) -> None:
        if ses.state == SessionState.CLOSED and ses.unfinished == 0:
            self.out.sessions_drained.append(ses.id)

    def window(self, ses: SessionRecord) -> int:
        """How many tasks one executor of ``ses`` may hold. Once its tasks are seen to be short,
        the one running plus about ``QUEUED_WORK_S`` of work (at least one, at most ``prefetch``
        in all): the next task is already there when one ends. Else 1: a long task never waits
        behind another on a busy executor while a free one could take it."""
        t = ses.task_time
        if t is None or t > SHORT_TASK_S:
            return 1
        ahead = math.ceil(round(QUEUED_WORK_S / t, 6)) if t > 0 else self.prefetch
        return min(self.prefetch, max(2, 1 + ahead))

    def _dispatch_session(self, ses: SessionRecord) -> None:
        """Deal pending tasks round-robin, one per executor per round, up to the window."""
        window = self.window(ses)
        executors = sorted((self.executors[e] for e in ses.executors), key=lambda ex: len(ex.inflight))
        for depth in range(1, window + 1):
            for ex in executors:
                if not ses.pending:
                    return
                if ex.state == ExecutorState.BOUND and len(ex.inflight) < depth:
                    self._push(ex, ses)

    def _dispatch(self, ex: ExecutorRecord, ses: SessionRecord) -> None:
        """Top ``ex`` up to the session's window."""
        window = self.window(ses)
        while ex.state == ExecutorState.BOUND and len(ex.inflight) < window and ses.pending:
            self._push(ex, ses)

    def _push(self, ex: ExecutorRecord, ses: SessionRecord) -> None:
        if not ex.inflight:
            ex.head_since = self.clock.mono()
        rec = ses.tasks[ses.pending.popleft()]
        rec.executor_id = ex.id
        ex.inflight.append(rec.id)
        self._task_to(ses, rec, TaskState.RUNNING, f"running on executor {ex.id} (node {ex.node})")
        self.out.commands.append(effects.InvokeCmd(ex.node, ex.id, ses.id, str(rec.id), rec.input))

    def _place(self, ses: SessionRecord, node: NodeRecord) -> None:
        app = self.apps[ses.attrs.application]
        req = scheduler.session_resreq(ses, self.default_resreq)
        gpu_ids = tuple(node.free_gpus[: req.gpu])
        del node.free_gpus[: req.gpu]
        ex = ExecutorRecord(
            id=f"{node.name}-{uuid.uuid4().hex[:8]}",
            node=node.name,
            session_id=ses.id,
            state=ExecutorState.BINDING,
            resreq=req,
            gpu_ids=gpu_ids,
            shim=app.attrs.shim or Shim.HOST,
        )
        node.allocatable = node.allocatable - req
        node.executors.add(ex.id)
        ses.executors.add(ex.id)
        self.executors[ex.id] = ex
        self.out.commands.append(
            effects.BindCmd(node.name, ex.id, app.snapshot(), ses.id, ses.attrs.common_data, req, gpu_ids)
        )
        log.info("executor %s binding session %s on node %s", ex.id, ses.id, node.name)

    def _release(self, ex: ExecutorRecord) -> None:
        self._executor_to(ex, ExecutorState.RELEASING)
        self.out.commands.append(effects.ReleaseCmd(ex.node, ex.id))

    def _executor_to(self, ex: ExecutorRecord, new: ExecutorState) -> None:
        states.check("executor", f"executor {ex.id}", ex.state, new)
        ex.state = new

    def _forget_executor(self, ex: ExecutorRecord, requeue_reason: str) -> None:
        self._executor_to(ex, ExecutorState.RELEASED)
        ses = self.sessions.get(ex.session_id)
        for num in list(ex.inflight):
            rec = ses.tasks.get(num) if ses is not None else None
            if ses is not None and rec is not None and rec.state == TaskState.RUNNING:
                self._requeue(ses, rec, requeue_reason)
        ex.inflight.clear()
        del self.executors[ex.id]
        if ses is not None:
            ses.executors.discard(ex.id)
        node = self.nodes.get(ex.node)
        if node is not None and ex.id in node.executors:
            node.executors.discard(ex.id)
            if node.state == NodeState.READY:
                node.allocatable = node.allocatable + ex.resreq
                node.free_gpus.extend(ex.gpu_ids)
        self.schedule_needed = True
        log.info("executor %s released (session %s)", ex.id, ex.session_id)


def _average(previous: float | None, observed: float) -> float:
    if previous is None:
        return observed
    return previous + _AVERAGE_WEIGHT * (observed - previous)


def _check_app_attrs(name: str, attrs: ApplicationAttributes) -> None:
    if attrs.max_instances is not None and attrs.max_instances < 1:
        raise InvalidArgumentError(f"application {name!r}: max_instances must be at least 1")
    if attrs.delay_release is not None and attrs.delay_release < 0:
        raise InvalidArgumentError(f"application {name!r}: delay_release must not be negative")
    if attrs.working_directory and not attrs.working_directory.startswith("/"):
        raise InvalidArgumentError(
            f"application {name!r}: working_directory must be absolute, got {attrs.working_directory!r}"
        )


def _normalise_attrs(attrs: ApplicationAttributes) -> ApplicationAttributes:
    return replace(
        attrs,
        shim=attrs.shim or Shim.HOST,
        labels=list(attrs.labels or []),
        arguments=list(attrs.arguments or []),
        environments=dict(attrs.environments or {}),
    )
