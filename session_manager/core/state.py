"""The core's records and the primitive state changes every noun module goes through.

:class:`CoreState` holds the in-memory records (applications, sessions with their unfinished tasks,
nodes, executors), the settings, the outbox the shell drains, and the id of the event being
handled. Its ``task_to`` / ``executor_to`` / ``close`` go through ``states.check`` with that id,
so an illegal transition names the event that caused it. Sans-IO: no clocks other than the
injected one, no I/O; only the shell's event loop calls it (through ``Core.handle``).
"""

from __future__ import annotations

import heapq
import logging

from flamepy.types import Event, ExecutorState, ResourceRequirement, SessionState, TaskState
from session_manager import effects, states
from session_manager.clock import Clock
from session_manager.model import (
    AppRecord,
    ExecutorRecord,
    NodeRecord,
    RetryPolicy,
    SessionRecord,
    TaskRecord,
)

log = logging.getLogger(__name__)

DEFAULT_RESREQ = ResourceRequirement(cpu=1, memory=0, gpu=0)
DEFAULT_MAX_BIND_FAILURES = 5
DEFAULT_UNSCHEDULABLE_TIMEOUT = 10.0
DEFAULT_NODE_TIMEOUT = 10.0
# How long an executor manager may take to stop a service (OnSessionLeave, SIGTERM, the kill grace,
# SIGKILL) before the core stops waiting: a task past its timeout by this much, or an executor
# Releasing this long, has its executor dropped and its resources returned.
DEFAULT_STOP_TIMEOUT = 30.0
TASK_DEADLINE, RELEASE_DEADLINE = "task", "release"
# Task event code of a task going back to Pending to run again (the message names the cause and the
# attempt that ended). Independent Flame clients read only code 3 (Failed); this is our extension.
REQUEUED = 1003


class CoreState:
    def __init__(
        self,
        clock: Clock | None = None,
        default_resreq: ResourceRequirement = DEFAULT_RESREQ,
        default_delay_release: float = 60.0,
        prefetch: int = 16,
        max_bind_failures: int = DEFAULT_MAX_BIND_FAILURES,
        unschedulable_timeout: float = DEFAULT_UNSCHEDULABLE_TIMEOUT,
        retry: RetryPolicy | None = None,
        node_timeout: float = DEFAULT_NODE_TIMEOUT,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
    ) -> None:
        self.clock = clock or Clock()
        self.stop_timeout = max(0.0, stop_timeout)
        # backstops (core.deadlines): (due, seq, kind, executor id, task number, attempt, timeout)
        self.deadlines: list[tuple[float, int, str, str, int, int, float]] = []
        self._deadline_seq = 0
        self.retry = retry or RetryPolicy()  # the default of applications and sessions that set none
        self.node_timeout = max(0.1, node_timeout)
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

    def task_to(
        self,
        ses: SessionRecord,
        rec: TaskRecord,
        new: TaskState,
        message: str | None,
        code: int | None = None,
    ) -> None:
        """Move ``rec`` to ``new`` and record an event (``code`` defaults to the new state's)."""
        states.check("task", rec, rec.state, new, self.stimulus_id)
        ses.counts[rec.state] -= 1
        ses.counts[new] += 1
        rec.state = new
        rec.events.append(self.event(int(new) if code is None else code, message))
        terminal = new.is_terminal
        if terminal:
            rec.completion_time = self.clock.ms()
            rec.executor_id = rec.node = None
        snap = rec.snapshot()
        # Running too: a restart then knows the task ran, and records the re-run (same group commit)
        self.out.records.append(effects.UpdateTask(snap, rec.run()))
        self.out.tasks_changed.append(snap)
        if terminal:
            self.maybe_drained(ses)

    def fail_or_retry(self, ses: SessionRecord, rec: TaskRecord, message: str) -> None:
        """The task failed on its own (its service raised, or it timed out): Failed, or run again
        under the retry limit when the policy retries errors."""
        if self.policy(ses).retry_on_error:
            self.requeue(ses, rec, message.splitlines()[0] if message else message, charged=True)
        else:
            self.task_to(ses, rec, TaskState.FAILED, message)

    def add_deadline(
        self, due: float, kind: str, executor_id: str, task: int = 0, attempt: int = 0, timeout: float = 0.0
    ) -> None:
        """A backstop checked by ``core.deadlines`` once ``due`` (monotonic seconds) has passed."""
        self._deadline_seq += 1
        heapq.heappush(self.deadlines, (due, self._deadline_seq, kind, executor_id, task, attempt, timeout))

    def policy(self, ses: SessionRecord) -> RetryPolicy:
        if ses.retry is not None:
            return ses.retry
        app = self.apps.get(ses.attrs.application)
        return app.retry if app is not None and app.retry is not None else self.retry

    def requeue(self, ses: SessionRecord, rec: TaskRecord, reason: str, charged: bool = False) -> None:
        """Back to the head of the queue to run again, recorded as event :data:`REQUEUED` with the
        reason and the attempt that ended. ``charged``: an infrastructure failure (or an error the
        policy retries) that counts against the session's ``max_retries``; past it the task fails
        with its history. Cancelled if its session is closed, failed if it can never run."""
        if ses.state != SessionState.OPEN:
            self.task_to(ses, rec, TaskState.CANCELLED, f"session closed ({reason})")
            return
        if ses.failure is not None:
            self.task_to(ses, rec, TaskState.FAILED, ses.failure.message)
            return
        if charged:
            rec.retries += 1
            rec.history.append(f"attempt {rec.attempt}: {reason}")
            if rec.retries > self.policy(ses).max_retries:
                text = f"failed after {rec.attempt} attempts: " + "; ".join(rec.history)
                log.warning("task %s/%s %s", ses.id, rec.id, text)
                self.task_to(ses, rec, TaskState.FAILED, text)
                return
        rec.executor_id = rec.node = None
        text = f"requeued after attempt {rec.attempt}: {reason}"
        self.task_to(ses, rec, TaskState.PENDING, text, REQUEUED)
        ses.pending.appendleft(rec.id)
        self.schedule_needed = True

    def maybe_drained(self, ses: SessionRecord) -> None:
        if ses.state == SessionState.CLOSED and ses.unfinished == 0:
            self.out.sessions_drained.append(ses.id)

    # -- executors ---------------------------------------------------------------------------

    def executor_to(self, ex: ExecutorRecord, new: ExecutorState) -> None:
        states.check("executor", ex, ex.state, new, self.stimulus_id)
        ex.state = new
        if new == ExecutorState.RELEASING:  # backstop: dropped if the node never says released
            self.add_deadline(self.clock.mono() + self.stop_timeout, RELEASE_DEADLINE, ex.id)

    def release(self, ex: ExecutorRecord) -> None:
        """Ask the executor's node to release it (it is forgotten once the node says so)."""
        self.executor_to(ex, ExecutorState.RELEASING)
        self.out.commands.append(effects.ReleaseCmd(ex.node, ex.id))
