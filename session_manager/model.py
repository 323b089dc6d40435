"""Mutable in-memory records owned by the broker core, and their frozen public snapshots."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

from flamepy.types import (
    Application,
    ApplicationAttributes,
    ApplicationState,
    Event,
    Executor,
    ExecutorState,
    Node,
    NodeState,
    ResourceRequirement,
    SessionAttributes,
    SessionState,
    SessionStatus,
    Shim,
    Task,
    TaskState,
)
from session_manager.effects import RetryPolicy, TaskRun


@dataclass(slots=True)
class AppRecord:
    name: str
    attrs: ApplicationAttributes
    state: ApplicationState
    creation_time: int
    retry: RetryPolicy | None = None  # None: the server's default

    def snapshot(self) -> Application:
        return Application(self.name, self.attrs, self.state, self.creation_time)


@dataclass(slots=True)
class TaskRecord:
    id: int
    session_id: str
    state: TaskState
    input: bytes | None
    creation_time: int
    output: bytes | None = None
    completion_time: int | None = None
    events: list[Event] = field(default_factory=list)
    executor_id: str | None = None
    attempt: int = 0  # dispatches so far; the current run's number while Running
    node: str | None = None  # the node of executor_id
    retries: int = 0  # re-runs charged to the retry limit
    history: list[str] = field(default_factory=list)  # why each charged attempt ended
    ran_on: str | None = None  # the node of the latest attempt, kept once it ended (its job log)

    @property
    def task_id(self) -> str:
        return str(self.id)

    @property
    def label(self) -> str:
        return f"task {self.id} of session {self.session_id}"

    @property
    def message(self) -> str | None:
        return self.events[-1].message if self.events else None

    def run(self) -> TaskRun | None:
        if not self.attempt:
            return None
        history = tuple(self.history)
        return TaskRun(self.attempt, self.executor_id, self.node, self.retries, history, self.ran_on)

    def snapshot(self) -> Task:
        return Task(
            id=str(self.id),
            session_id=self.session_id,
            state=self.state,
            input=self.input,
            output=self.output,
            creation_time=self.creation_time,
            completion_time=self.completion_time,
            events=tuple(self.events),
        )


@dataclass(frozen=True, slots=True)
class SessionFailure:
    """Why a session's tasks cannot run: ``kind`` is ``"bind"`` (its service failed to start too
    many times in a row) or ``"resources"`` (no registered node can hold its resource request);
    ``message`` is the failed tasks' event message."""

    kind: str
    message: str


@dataclass(slots=True)
class SessionRecord:
    id: str
    attrs: SessionAttributes
    state: SessionState
    creation_time: int
    completion_time: int | None = None
    events: list[Event] = field(default_factory=list)
    next_task_id: int = 1
    tasks: dict[int, TaskRecord] = field(default_factory=dict)
    pending: deque[int] = field(default_factory=deque)
    counts: dict[TaskState, int] = field(default_factory=lambda: dict.fromkeys(TaskState, 0))
    executors: set[str] = field(default_factory=set)
    bind_failures: int = 0
    bind_retry_at: float = 0.0  # monotonic seconds; no new executor before this
    task_time: float | None = None  # moving average of a task's time at an executor (s); None: not seen
    failure: SessionFailure | None = None  # set: no new executors; pending and new tasks fail with it
    unfit_since: float | None = None  # monotonic seconds since no registered node could hold its resreq
    keys: dict[str, int] = field(default_factory=dict)  # idempotency key -> task id
    retry: RetryPolicy | None = None  # None: its application's
    spread: bool = False  # at most one of its executors per node (SetSessionPlacement; persisted)

    @property
    def label(self) -> str:
        return f"session {self.id}"

    @property
    def unfinished(self) -> int:
        return self.counts[TaskState.PENDING] + self.counts[TaskState.RUNNING]

    def info(self) -> SessionInfo:
        return SessionInfo(replace(self.attrs, id=self.id), self.status())

    def status(self) -> SessionStatus:
        c = self.counts
        return SessionStatus(
            state=self.state,
            creation_time=self.creation_time,
            completion_time=self.completion_time,
            pending=c[TaskState.PENDING],
            running=c[TaskState.RUNNING],
            succeed=c[TaskState.SUCCEED],
            failed=c[TaskState.FAILED],
            cancelled=c[TaskState.CANCELLED],
            events=tuple(self.events),
        )


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session as the shell's API hands it out: its attributes (carrying its id) and status."""

    attrs: SessionAttributes
    status: SessionStatus


@dataclass(slots=True)
class ExecutorRecord:
    id: str
    node: str
    session_id: str
    state: ExecutorState
    resreq: ResourceRequirement
    gpu_ids: tuple[int, ...] = ()
    shim: Shim = Shim.HOST
    inflight: deque[int] = field(default_factory=deque)
    idle_since: float = 0.0  # monotonic seconds when the last task finished
    head_since: float = 0.0  # monotonic seconds since the first in-flight task could run

    @property
    def label(self) -> str:
        return f"executor {self.id}"

    def snapshot(self) -> Executor:
        return Executor(self.id, self.node, self.state, self.session_id, self.resreq, self.shim)


@dataclass(slots=True)
class NodeRecord:
    name: str
    capacity: ResourceRequirement
    allocatable: ResourceRequirement  # what is left for new executors
    shims: frozenset[Shim]
    state: NodeState = NodeState.READY
    hostname: str = ""
    arch: str = ""
    os: str = ""
    last_heartbeat_time: int = 0
    last_seen: float = 0.0  # monotonic seconds of its last message (liveness)
    free_gpus: list[int] = field(default_factory=list)
    executors: set[str] = field(default_factory=set)
    rejected_reports: int = 0  # reports about executors of other nodes, dropped (core.trust)

    def snapshot(self) -> Node:
        return Node(
            name=self.name,
            state=self.state,
            capacity=self.capacity,
            allocatable=self.allocatable,
            arch=self.arch,
            os=self.os,
            hostname=self.hostname,
            last_heartbeat_time=self.last_heartbeat_time,
        )
