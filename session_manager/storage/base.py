"""The storage interface: what the session manager persists and reads back.

``commit`` applies a batch of records in one transaction and returns only when it is durable; the
group-commit writer (``session_manager.persist``) calls it from one thread with everything queued
since the previous commit.

The session manager keeps only unfinished tasks in memory: ``load`` returns those in full and
just the counts of finished ones, and ``load_tasks`` reads finished tasks back (GetTask, ListTask,
WatchTask of a finished task) from the server's event loop while the writer may be committing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from flamepy.types import Application, Task, TaskState
from session_manager.effects import Record, RetryPolicy, SaveSession, TaskRun


@dataclass(frozen=True)
class Snapshot:
    apps: list[Application]
    sessions: list[SaveSession]
    tasks: list[Task]  # the unfinished ones (pending and running)
    finished: dict[str, dict[TaskState, int]] = field(default_factory=dict)  # per session and state
    runs: dict[tuple[str, int], TaskRun] = field(default_factory=dict)  # of unfinished tasks that ran
    keys: dict[str, dict[str, int]] = field(default_factory=dict)  # session -> idempotency key -> task id
    policies: dict[tuple[str, str], RetryPolicy] = field(default_factory=dict)  # (kind, name) -> policy
    spread: frozenset[str] = frozenset()  # the sessions placed at most one executor per node


class Storage(Protocol):
    def load(self) -> Snapshot: ...

    def load_tasks(self, session_id: str, first: int, last: int) -> list[Task]:
        """The stored tasks of ``session_id`` with ids from ``first`` to ``last``, in id order."""
        ...

    def load_run(self, session_id: str, task_id: int) -> TaskRun | None:
        """Where and how often the stored task ran (None: unknown task, or it never ran)."""
        ...

    def commit(self, records: list[Record]) -> None: ...

    def close(self) -> None: ...
