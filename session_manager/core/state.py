"""The core's records and the primitive state changes every noun module goes through.

:class:`CoreState` holds the in-memory records (applications, sessions with their unfinished tasks,
nodes, executors), the settings, the outbox the shell drains, and the id of the event being
handled. Its ``task_to`` / ``executor_to`` / ``close`` go through ``states.check`` with that id,
so an illegal transition names the event that caused it. Sans-IO: no clocks other than the
injected one, no I/O; only the shell's event loop calls it (through ``Core.handle``).
"""

from __future__ import annotations

from flamepy.types import Event, ExecutorState, ResourceRequirement, SessionState, TaskState
from session_manager import effects, states
from session_manager.clock import Clock
from session_manager.model import AppRecord, ExecutorRecord, NodeRecord, SessionRecord, TaskRecord

DEFAULT_RESREQ = ResourceRequirement(cpu=1, memory=0, gpu=0)
DEFAULT_MAX_BIND_FAILURES = 5
DEFAULT_UNSCHEDULABLE_TIMEOUT = 10.0


class CoreState:
    def __init__(
        self,
        clock: Clock | None = None,
        default_resreq: ResourceRequirement = DEFAULT_RESREQ,
        default_delay_release: float = 60.0,
        prefetch: int = 16,
        max_bind_failures: int = DEFAULT_MAX_BIND_FAILURES,
        unschedulable_timeout: float = DEFAULT_UNSCHEDULABLE_TIMEOUT,
    ) -> None:
        self.clock = clock or Clock()
        self.default_resreq = default_resreq
        self.default_delay_release = default_delay_release
        self.prefetch = max(1, prefetch)
        self.max_bind_failures = max(1, max_bind_failures)
        self.unschedulable_timeout = max(0.0, unschedulable_timeout)
        self.apps: dict[str, AppRecord] = {}
        self.sessions: dict[str, SessionRecord] = {}
        self.nodes: dict[str, NodeRecord] = {}
        self.executors: dict[str, ExecutorRecord] = {}
        self.out = effects.Outbox()
        self.schedule_needed = False
        self.resources_check_needed = False  # nodes or sessions came or went: CheckResources is due
        self.stimulus_id = "none"  # the event being handled, e.g. "TaskResults-42"

    def event(self, code: int, message: str | None) -> Event:
        return Event(code=int(code), message=message, creation_time=self.clock.ms())

    def save_session(self, ses: SessionRecord) -> None:
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

    # -- sessions and tasks ------------------------------------------------------------------

    def close(self, ses: SessionRecord) -> None:
        states.check("session", ses, ses.state, SessionState.CLOSED, self.stimulus_id)
        ses.state = SessionState.CLOSED
        ses.completion_time = self.clock.ms()

    def task_to(self, ses: SessionRecord, rec: TaskRecord, new: TaskState, message: str | None) -> None:
        states.check("task", rec, rec.state, new, self.stimulus_id)
        ses.counts[rec.state] -= 1
        ses.counts[new] += 1
        rec.state = new
        rec.events.append(self.event(int(new), message))
        terminal = new.is_terminal
        if terminal:
            rec.completion_time = self.clock.ms()
            rec.executor_id = None
        snap = rec.snapshot()
        if new != TaskState.RUNNING:  # running is not persisted: a restart runs the task again anyway
            self.out.records.append(effects.UpdateTask(snap))
        self.out.tasks_changed.append(snap)
        if terminal:
            self.maybe_drained(ses)

    def requeue(self, ses: SessionRecord, rec: TaskRecord, reason: str) -> None:
        """Back to the head of the queue (cancelled if its session is closed, failed if it can
        never run)."""
        if ses.state != SessionState.OPEN:
            self.task_to(ses, rec, TaskState.CANCELLED, f"session closed ({reason})")
            return
        if ses.failure is not None:
            self.task_to(ses, rec, TaskState.FAILED, ses.failure.message)
            return
        self.task_to(ses, rec, TaskState.PENDING, f"requeued: {reason}")
        rec.executor_id = None
        ses.pending.appendleft(rec.id)
        self.schedule_needed = True

    def maybe_drained(self, ses: SessionRecord) -> None:
        if ses.state == SessionState.CLOSED and ses.unfinished == 0:
            self.out.sessions_drained.append(ses.id)

    # -- executors ---------------------------------------------------------------------------

    def executor_to(self, ex: ExecutorRecord, new: ExecutorState) -> None:
        states.check("executor", ex, ex.state, new, self.stimulus_id)
        ex.state = new

    def release(self, ex: ExecutorRecord) -> None:
        """Ask the executor's node to release it (it is forgotten once the node says so)."""
        self.executor_to(ex, ExecutorState.RELEASING)
        self.out.commands.append(effects.ReleaseCmd(ex.node, ex.id))
