"""``MemoryTransport.cancel_task``: cancelling a task in the in-memory session manager.

Pending or Running: Cancelled at once with ``reason`` (its watchers get the completion); finished:
returned as it is; unknown: NotFoundError, as from the real session manager.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flamepy.types import Task, TaskState

if TYPE_CHECKING:
    from flamepy.transport.memory import MemoryTransport


def cancel_task(t: MemoryTransport, session_id: str, task_id: str, reason: str | None = None) -> Task:
    with t.cond:
        t._enter("cancel_task")
        task = t.task(session_id, task_id)
        if task.state.is_terminal:
            return task
        why = reason or "cancelled by the client"
        return t._finish(session_id, task, (TaskState.CANCELLED, None, why))
