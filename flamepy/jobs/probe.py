"""Looking into a running job: its tasks' resource use and commands run beside a task.

Used by :meth:`flamepy.jobs.Job.stats` / :meth:`~flamepy.jobs.Job.exec` and ``flmctl top`` /
``flmctl exec``. Both go through the session manager to the node that runs the task
(:meth:`flamepy.Connection.task_stats`, :meth:`flamepy.Connection.exec_in_task`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from flamepy.errors import FlameError, InvalidStateError, NotFoundError
from flamepy.jobs.state import JobState, TaskView
from flamepy.taskprobe import ExecChunk, TaskStats

if TYPE_CHECKING:
    from flamepy.jobs.handle import Job

__all__ = ["exec_stream", "job_stats", "running_task"]
PARALLEL_PROBES = 16


def running_task(job: Job, task: int = 0) -> TaskView:
    """The job's task ``task`` (its launch index); InvalidStateError when it is not running."""
    views = [v for v in job.tasks() if v.index == task]
    if not views:
        raise NotFoundError(f"job {job.id} ({job.name}) has no task {task}")
    view = views[-1]
    if view.state != JobState.RUNNING:
        raise InvalidStateError(f"job {job.id} ({job.name}) task {task} is not running ({view.state})")
    return view


def job_stats(job: Job) -> list[tuple[TaskView, TaskStats | FlameError]]:
    """Each running task of the job with its stats, or the error that stands for them (a task
    that ended between the listing and the probe, a node that did not answer). The tasks are
    asked at once (each node samples CPU for 0.3 s), at most :data:`PARALLEL_PROBES` at a time."""
    views = [v for v in job.tasks() if v.state == JobState.RUNNING]

    def one(view: TaskView) -> TaskStats | FlameError:
        try:
            return job.connection.task_stats(job.id, view.task_id)
        except FlameError as exc:
            return exc

    if len(views) <= 1:
        return [(v, one(v)) for v in views]
    with ThreadPoolExecutor(min(PARALLEL_PROBES, len(views)), thread_name_prefix="task-stats") as pool:
        return list(zip(views, pool.map(one, views), strict=True))


def exec_stream(job: Job, argv: Sequence[str], task: int = 0, timeout_s: float = 0.0) -> Iterator[ExecChunk]:
    """Run ``argv`` beside the job's task ``task``: its output, then a chunk with the exit code."""
    view = running_task(job, task)
    return job.connection.exec_in_task(job.id, view.task_id, argv, timeout_s)
