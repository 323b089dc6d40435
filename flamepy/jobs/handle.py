"""The :class:`Job` handle: one submitted job, read and steered through its session.

Concurrency model: blocking calls on the caller's thread through one
:class:`~flamepy.connection.Connection`; every property that reports state asks the server again
(nothing is cached but the job's metadata). Waiting follows the tasks' watch streams, never polls.
Following the logs of a job of several tasks reads each task on a daemon thread of its own and
hands the records to the caller's thread through a queue, so ranks running together show together;
a thread ends when its task does.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flamepy.errors import FlameError, NotFoundError, TaskTimeoutError
from flamepy.jobs.info import JobInfo
from flamepy.jobs.logsource import Record, task_records, wait_task
from flamepy.jobs.probe import exec_stream, job_stats
from flamepy.jobs.state import JobState, TaskView, job_state, task_view
from flamepy.session import Session
from flamepy.taskprobe import TaskStats
from flamepy.types import SessionState, TaskState

if TYPE_CHECKING:
    from flamepy.connection import Connection

__all__ = ["Job", "JobStatus"]


@dataclass(frozen=True)
class JobStatus:
    """A snapshot of a job: its state, exit code and tasks, with the session's times (ms)."""

    state: JobState
    exit_code: int | None
    reason: str | None
    tasks: tuple[TaskView, ...]
    submitted_ms: int
    started_ms: int | None
    finished_ms: int | None
    session_open: bool


def _reason(state: JobState, tasks: tuple[TaskView, ...]) -> str | None:
    for task in tasks:
        if task.state == state and task.reason:
            return task.reason
    return None


class Job:
    """A submitted job (see :func:`flamepy.jobs.run`, :func:`flamepy.jobs.get`)."""

    def __init__(self, conn: Connection, info: JobInfo) -> None:
        self._conn = conn
        self.info = info

    @property
    def connection(self) -> Connection:
        return self._conn

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.info.labels)

    def __repr__(self) -> str:
        return f"Job(id={self.id!r}, name={self.name!r})"

    def _session(self) -> Session:
        try:
            return self._conn.get_session(self.id)
        except NotFoundError as exc:
            raise NotFoundError(f"job {self.id} ({self.name}) no longer exists") from exc

    def tasks(self) -> list[TaskView]:
        """The job's tasks, in launch order (array index, then rank)."""
        views = [task_view(t) for t in self._session().list_tasks()]
        return sorted(views, key=lambda v: (v.index, v.task_id))

    def describe(self) -> JobStatus:
        """The job's state now; a finished job's session is closed on the way (releasing its
        executors)."""
        ssn = self._session()
        views = tuple(sorted((task_view(t) for t in ssn.list_tasks()), key=lambda v: (v.index, v.task_id)))
        state, code = job_state(views)
        is_open = ssn.state == SessionState.OPEN
        if state.finished and is_open and len(views) >= self.info.tasks:
            ssn.close()
            is_open = False
        started = [t.created_ms for t in views if t.state != JobState.PENDING]
        ended = [t.completed_ms for t in views if t.completed_ms]
        return JobStatus(
            state=state,
            exit_code=code,
            reason=_reason(state, views) if state.finished else None,
            tasks=views,
            submitted_ms=self.info.submitted_ms or ssn.creation_time,
            started_ms=min(started) if started else None,
            finished_ms=(max(ended) if ended else ssn.completion_time) if state.finished else None,
            session_open=is_open,
        )

    @property
    def status(self) -> JobState:
        """Pending, Running, Succeeded, Failed, Cancelled or Timeout (asks the server)."""
        return self.describe().state

    @property
    def exit_code(self) -> int | None:
        """The command's exit code once the job has finished (None before, or when its tasks
        ended without one, e.g. cancelled before they started)."""
        return self.describe().exit_code

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until the job finishes; its exit code. Past ``timeout`` seconds raises
        :class:`~flamepy.errors.TaskTimeoutError` (a ``TimeoutError``) naming the job, which keeps
        running."""
        deadline = None if timeout is None else time.monotonic() + timeout
        ssn = self._session()
        for task in ssn.list_tasks():
            if not task.state.is_terminal:
                last = wait_task(ssn, task.id, deadline)
                if not last.state.is_terminal:
                    raise TaskTimeoutError(
                        f"job {self.id} ({self.name}) did not finish within {timeout} s; it is still "
                        f"{JobState.RUNNING if last.state == TaskState.RUNNING else JobState.PENDING}"
                    )
        return self.describe().exit_code

    def cancel(self) -> bool:
        """Cancel the job: its pending tasks are dropped and its running ones stopped (the
        process group gets SIGTERM, then SIGKILL). Idempotent: True when something was still
        pending or running, False for a job that had already finished."""
        ssn = self._session()
        before = [t.state for t in ssn.list_tasks()]
        active = any(not s.is_terminal for s in before) or len(before) < self.info.tasks
        ssn.close(cancel_running=True)
        return active

    def records(self, task: int | None = None, *, follow: bool = False) -> Iterator[tuple[TaskView, Record]]:
        """``(task, record)`` for the job's log records, task by task (only task ``task`` — its
        launch index — when given); see :mod:`flamepy.jobs.logsource` for where they come from."""
        views = self.tasks()
        if task is not None:
            views = [v for v in views if v.index == task]
            if not views:
                raise NotFoundError(f"job {self.id} ({self.name}) has no task {task}")
        if follow and len(views) > 1:
            yield from _interleaved(self._conn, self.id, views)
            return
        for view in views:
            for record in task_records(self._conn, self.id, view.task_id, follow=follow):
                yield view, record

    def stats(self) -> list[tuple[TaskView, TaskStats | FlameError]]:
        """Each running task with its resource use now (:mod:`flamepy.jobs.probe`)."""
        return job_stats(self)

    def exec(self, argv: Sequence[str], task: int = 0, timeout_s: float = 0.0) -> tuple[int, bytes]:
        """Run ``argv`` on the node of running task ``task``, in its working directory with its
        environment: ``(exit code, output)`` (stdout and stderr together, at most 16 MiB)."""
        out, code = bytearray(), 0
        for chunk in exec_stream(self, argv, task, timeout_s):
            out += chunk.data
            code = chunk.exit_code if chunk.done else code
        return code, bytes(out)

    def logs(self, follow: bool = False, tail: int | None = None) -> Iterator[str]:
        """The command's output lines (stdout and stderr), task after task; ``follow`` keeps
        reading until each task ends; ``tail`` keeps only the last N lines of what is there."""
        lines = (r.get("l", "") for _, r in self.records(follow=follow) if r.get("s") != "sys")
        if tail is None:
            yield from lines
            return
        kept = list(lines)
        yield from kept[-tail:] if tail > 0 else []


def _interleaved(conn: Connection, job_id: str, views: list[TaskView]) -> Iterator[tuple[TaskView, Record]]:
    """Follow every task at once (see the module docstring); the first error raises here."""
    events: queue.SimpleQueue[tuple[TaskView, Record | None, BaseException | None]] = queue.SimpleQueue()

    def pump(view: TaskView) -> None:
        try:
            for record in task_records(conn, job_id, view.task_id, follow=True):
                events.put((view, record, None))
        except BaseException as exc:  # handed to the caller's thread, raised there
            events.put((view, None, exc))
            return
        events.put((view, None, None))

    for view in views:
        threading.Thread(target=pump, args=(view,), name=f"{job_id}-log-{view.index}", daemon=True).start()
    left = len(views)
    while left:
        view, record, exc = events.get()
        if exc is not None:
            raise exc
        if record is None:
            left -= 1
            continue
        yield view, record
