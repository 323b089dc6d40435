"""State machines as data: the allowed transitions of tasks, sessions and executors.

``check(kind, name, current, new, stimulus_id)`` is the one place that rejects an illegal
transition; it raises :class:`IllegalTransition` (an InternalError) that tells the story: which
object, from where, to where, and which event made the core try it (the stimulus id the core gave
the event it was handling, e.g. ``TaskResults-42``), because an illegal transition is always a bug
in the broker, never bad user input.

A new state (say a task's retry states) is one enum member in ``flamepy.types`` and its edges here.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Protocol

from flamepy.errors import InternalError
from flamepy.types import ExecutorState, SessionState, TaskState

TASK_TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    # PENDING -> FAILED: its session can never run it (its service keeps failing to start, or no
    # node can hold its resource request).
    TaskState.PENDING: frozenset({TaskState.RUNNING, TaskState.CANCELLED, TaskState.FAILED}),
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


class Labelled(Protocol):
    @property
    def label(self) -> str: ...


class IllegalTransition(InternalError):
    def __init__(
        self, kind: str, what: str | Labelled, current: IntEnum, new: IntEnum, stimulus_id: str
    ) -> None:
        name = what if isinstance(what, str) else what.label
        allowed = _TABLES[kind].get(current, frozenset())
        options = ", ".join(s.name for s in sorted(allowed)) or "nothing (terminal)"
        super().__init__(
            f"illegal {kind} transition for {name}: {current.name} -> {new.name} "
            f"(allowed from {current.name}: {options}), caused by {stimulus_id}"
        )
        self.kind, self.name, self.current, self.new = kind, name, current, new
        self.stimulus_id = stimulus_id


def check(kind: str, what: str | Labelled, current: IntEnum, new: IntEnum, stimulus_id: str) -> None:
    """Raise IllegalTransition unless ``current -> new`` is allowed for ``kind`` objects. ``what``
    names the object (a record's ``label`` is only formatted when the transition is illegal)."""
    if new not in _TABLES[kind].get(current, frozenset()):
        raise IllegalTransition(kind, what, current, new, stimulus_id)
