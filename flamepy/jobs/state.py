"""A job's state from its tasks: pure functions, no I/O.

Each task of a job ends as the command application reports it (:mod:`flamepy.apps.jobresult`):
Succeed with a ``flame.job-result/v1`` output, or Failed with ``exit code N (REASON)`` in its
message. :func:`task_view` reads one task; :func:`job_state` folds them:

- some task not finished: ``Running`` once any task started or ended, else ``Pending``;
- all finished: ``Cancelled`` if one was cancelled, else ``Timeout`` if one timed out, else
  ``Failed`` if one failed, else ``Succeeded``.

The job's exit code is 0 when it succeeded, else the first non-zero exit code of the tasks in
the state that decided it (None when the tasks ended without one, e.g. cancelled while pending).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass

from flamepy.apps.jobresult import TIMEOUT_EXIT_CODE, JobResult, parse_failure
from flamepy.types import Task, TaskState

__all__ = ["JobState", "TaskView", "job_state", "task_view"]


class JobState(str, enum.Enum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    TIMEOUT = "Timeout"

    @property
    def finished(self) -> bool:
        return self not in (JobState.PENDING, JobState.RUNNING)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class TaskView:
    """One task of a job as the job sees it."""

    task_id: str
    index: int
    rank: int
    array_index: int | None
    state: JobState
    exit_code: int | None
    reason: str | None
    message: str
    created_ms: int
    completed_ms: int | None


def _launch_fields(raw: bytes | None) -> tuple[int, int, int | None]:
    try:
        doc = json.loads(raw or b"{}")
        return int(doc.get("index", 0)), int(doc.get("rank", 0)), doc.get("array_index")
    except (UnicodeDecodeError, ValueError, TypeError, AttributeError):
        return 0, 0, None


def _ended(task: Task) -> tuple[JobState, int | None, str | None]:
    if task.state == TaskState.SUCCEED:
        try:
            result = JobResult.from_json(task.output or b"")
            return JobState.SUCCEEDED, result.exit_code, result.reason
        except ValueError:
            return JobState.SUCCEEDED, 0, "Completed"
    found = parse_failure(task.message or "")
    code, reason = found if found else (None, None)
    if task.state == TaskState.CANCELLED or reason == "Cancelled":
        return JobState.CANCELLED, code, "Cancelled"
    if reason == "Timeout":
        return JobState.TIMEOUT, code if code is not None else TIMEOUT_EXIT_CODE, reason
    return JobState.FAILED, code, reason or "Failed"


def task_view(task: Task) -> TaskView:
    """How one task of a job stands."""
    index, rank, array_index = _launch_fields(task.input)
    if task.state == TaskState.PENDING:
        state, code, reason = JobState.PENDING, None, None
    elif task.state == TaskState.RUNNING:
        state, code, reason = JobState.RUNNING, None, None
    else:
        state, code, reason = _ended(task)
    return TaskView(
        task_id=task.id,
        index=index,
        rank=rank,
        array_index=array_index if isinstance(array_index, int) else None,
        state=state,
        exit_code=code,
        reason=reason,
        message=task.message or "",
        created_ms=task.creation_time,
        completed_ms=task.completion_time,
    )


_PRECEDENCE = (JobState.CANCELLED, JobState.TIMEOUT, JobState.FAILED)


def job_state(tasks: Sequence[TaskView]) -> tuple[JobState, int | None]:
    """The job's state and exit code (see the module docstring)."""
    if not tasks:
        return JobState.PENDING, None
    if any(not t.state.finished for t in tasks):
        started = any(t.state != JobState.PENDING for t in tasks)
        return (JobState.RUNNING if started else JobState.PENDING), None
    for state in _PRECEDENCE:
        deciding = [t for t in tasks if t.state == state]
        if deciding:
            codes = [t.exit_code for t in deciding if t.exit_code]
            return state, (codes[0] if codes else None)
    return JobState.SUCCEEDED, 0
