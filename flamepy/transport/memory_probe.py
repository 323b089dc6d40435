"""``MemoryTransport.task_stats`` / ``exec_in_task``: running job tasks in the in-memory session
manager.

There is no node and no process: a test puts what a node would measure in
``MemoryTransport.task_stats_of[(session, task)]`` and a stand-in for the node's command runner in
``MemoryTransport.task_exec[(session, task)]`` (``argv`` → ``(exit code, output)``). A task that is
not Running is InvalidStateError (as the real session manager answers), a Running one without an
entry NotFoundError (not a job).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from flamepy.errors import InvalidStateError, NotFoundError
from flamepy.taskprobe import ExecChunk, TaskStats
from flamepy.types import TaskState

if TYPE_CHECKING:
    from flamepy.transport.memory import MemoryTransport

NODE = "memory"


def _running(t: MemoryTransport, call: str, session_id: str, task_id: str) -> None:
    with t.cond:
        t._enter(call)
        task = t.task(session_id, task_id)
    if task.state != TaskState.RUNNING:
        raise InvalidStateError(f"task {session_id}/{task_id} is not running ({task.state.name.lower()})")


def task_stats(t: MemoryTransport, session_id: str, task_id: str) -> TaskStats:
    _running(t, "task_stats", session_id, task_id)
    stats = t.task_stats_of.get((session_id, task_id))
    if stats is None:
        raise NotFoundError(f"task {session_id}/{task_id} has no job on node {NODE}")
    return stats


def exec_in_task(
    t: MemoryTransport, session_id: str, task_id: str, argv: list[str], timeout_s: float = 0.0
) -> Iterator[ExecChunk]:
    _running(t, "exec_in_task", session_id, task_id)
    run = t.task_exec.get((session_id, task_id))
    if run is None:
        raise NotFoundError(f"task {session_id}/{task_id} has no job on node {NODE}")
    code, output = run(list(argv))
    return iter([ExecChunk(output, node=NODE), ExecChunk(done=True, exit_code=code, node=NODE)])
