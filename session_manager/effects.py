"""What the broker core asks its shell to do: persist records, send commands to nodes, notify.

The core never performs I/O; every operation leaves these in its outbox and the asyncio shell
(``broker.py``) executes them: persistence first (group-committed), then notifications.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flamepy.types import Application, Event, ResourceRequirement, SessionAttributes, SessionState, Task


# -- persistence records -------------------------------------------------------------------------
@dataclass(frozen=True)
class SaveApp:
    app: Application


@dataclass(frozen=True)
class DeleteApp:
    name: str


@dataclass(frozen=True)
class SaveSession:
    id: str
    attrs: SessionAttributes
    state: SessionState
    creation_time: int
    completion_time: int | None
    events: tuple[Event, ...]
    next_task_id: int


@dataclass(frozen=True)
class DeleteSession:
    id: str


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often a task may run again: ``max_retries`` re-runs after infrastructure failures (its
    node lost, its executor or service process died while running it) and, when
    ``retry_on_error``, after the task itself failed; past that it fails with its history.
    ``task_timeout``: seconds one attempt may run at its executor (None: no limit); past it the
    service is stopped and the task fails with reason Timeout (a failure of its own)."""

    max_retries: int = 3
    retry_on_error: bool = False
    task_timeout: float | None = None


@dataclass(frozen=True)
class SaveRetryPolicy:
    """The policy of an application (``kind`` "application") or a session ("session"); None: none."""

    kind: str
    name: str
    policy: RetryPolicy | None


@dataclass(frozen=True)
class SaveSessionPlacement:
    """A session's placement constraint (``SetSessionPlacement``): ``spread`` True puts at most one
    of its executors on a node; False removes the constraint (and the stored row)."""

    session_id: str
    spread: bool


@dataclass(frozen=True, slots=True)
class TaskRun:
    """Where and how often a task ran, persisted with its state: ``attempt`` counts dispatches
    (1 = first); ``executor``/``node`` hold it while Running; ``retries`` counts the re-runs charged
    to its retry limit and ``history`` says why each charged attempt ended. ``ran_on``: the node
    of the latest attempt, kept after it ended (where the task's job log is)."""

    attempt: int = 0
    executor: str | None = None
    node: str | None = None
    retries: int = 0
    history: tuple[str, ...] = ()
    ran_on: str | None = None


@dataclass(frozen=True)
class InsertTask:
    task: Task
    key: str | None = None  # the client's idempotency key, unique per session


@dataclass(frozen=True)
class UpdateTask:
    task: Task
    run: TaskRun | None = None  # None: never dispatched


Record = (
    SaveApp
    | DeleteApp
    | SaveSession
    | DeleteSession
    | InsertTask
    | UpdateTask
    | SaveRetryPolicy
    | SaveSessionPlacement
)


# -- commands to executor managers ---------------------------------------------------------------
@dataclass(frozen=True)
class BindCmd:
    node: str
    executor_id: str
    app: Application
    session_id: str
    common_data: bytes | None
    resreq: ResourceRequirement
    gpu_ids: tuple[int, ...]


@dataclass(frozen=True)
class InvokeCmd:
    node: str
    executor_id: str
    session_id: str
    task_id: str
    input: bytes | None
    attempt: int = 0
    timeout: float | None = None  # seconds this attempt may run at the service; None: no limit


@dataclass(frozen=True)
class CancelCmd:
    """Stop one task at its executor: dropped if queued there; if running, its service is stopped
    (the task is already Cancelled in the core)."""

    node: str
    executor_id: str
    session_id: str
    task_id: str
    attempt: int
    reason: str


@dataclass(frozen=True)
class ReleaseCmd:
    node: str
    executor_id: str


@dataclass(frozen=True)
class DropNodeCmd:
    """Close the node's stream: it was declared lost (silent too long) and must register afresh."""

    node: str


@dataclass(frozen=True)
class ReadLogCmd:
    """Read bytes of a task's job log on the node (answered by its ``log_data`` with the same
    ``request_id``). Not emitted by the core: the shell's ``task_logs`` sends it, off the task path."""

    node: str
    request_id: int
    session_id: str
    task_id: str
    offset: int
    max_bytes: int


@dataclass(frozen=True)
class StatsCmd:
    """Measure a running job task on the node (answered by ``stats_data``; shell's ``task_probes``)."""

    node: str
    request_id: int
    session_id: str
    task_id: str


@dataclass(frozen=True)
class ExecCmd:
    """Run ``argv`` beside a running job task on the node (answered by ``exec_output`` messages;
    shell's ``task_probes``)."""

    node: str
    request_id: int
    session_id: str
    task_id: str
    argv: tuple[str, ...]
    timeout_s: float


@dataclass(frozen=True)
class ExecStopCmd:
    """Kill the command of an :class:`ExecCmd` still running (its caller went away)."""

    node: str
    request_id: int


Command = (
    BindCmd | InvokeCmd | ReleaseCmd | DropNodeCmd | CancelCmd | ReadLogCmd | StatsCmd | ExecCmd | ExecStopCmd
)


@dataclass
class Outbox:
    records: list[Record] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    tasks_changed: list[Task] = field(default_factory=list)
    sessions_drained: list[str] = field(default_factory=list)  # closed and nothing left to finish

    def __bool__(self) -> bool:
        return bool(self.records or self.commands or self.tasks_changed or self.sessions_drained)
