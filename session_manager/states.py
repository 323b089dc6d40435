"""State machines as data: the allowed transitions of tasks, sessions and executors.

``check(kind, current, new)`` is the one place that rejects an illegal transition; it raises an
InternalError that tells the story (which object, from where, to where), because an illegal
transition is always a bug in the broker, never bad user input.
"""

from __future__ import annotations

from enum import IntEnum

from flamepy.errors import InternalError
from flamepy.types import ExecutorState, SessionState, TaskState

TASK_TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    TaskState.PENDING: frozenset({TaskState.RUNNING, TaskState.CANCELLED}),
    # RUNNING -> PENDING: the task never started on the executor (requeue) or its executor was lost.
    TaskState.RUNNING: frozenset(
        {TaskState.SUCCEED, TaskState.FAILED, TaskState.CANCELLED, TaskState.PENDING}
    ),
    TaskState.SUCCEED: frozenset(),
    TaskState.FAILED: frozenset(),
    TaskState.CANCELLED: frozenset(),
}

SESSION_TRANSITIONS: dict[SessionState, frozenset[SessionState]] = {
    SessionState.OPEN: frozenset({SessionState.CLOSED}),
    SessionState.CLOSED: frozenset(),
}

EXECUTOR_TRANSITIONS: dict[ExecutorState, frozenset[ExecutorState]] = {
    ExecutorState.BINDING: frozenset({ExecutorState.BOUND, ExecutorState.RELEASED}),
    ExecutorState.BOUND: frozenset({ExecutorState.RELEASING, ExecutorState.RELEASED}),
    ExecutorState.RELEASING: frozenset({ExecutorState.RELEASED}),
    ExecutorState.RELEASED: frozenset(),
}

_TABLES: dict[str, dict] = {
    "task": TASK_TRANSITIONS,
    "session": SESSION_TRANSITIONS,
    "executor": EXECUTOR_TRANSITIONS,
}


def check(kind: str, name: str, current: IntEnum, new: IntEnum) -> None:
    """Raise InternalError unless ``current -> new`` is allowed for ``kind`` objects."""
    allowed = _TABLES[kind].get(current, frozenset())
    if new not in allowed:
        options = ", ".join(s.name for s in sorted(allowed)) or "nothing (terminal)"
        raise InternalError(
            f"illegal {kind} transition for {name}: {current.name} -> {new.name} "
            f"(allowed from {current.name}: {options})"
        )
