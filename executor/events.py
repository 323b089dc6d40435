"""Typed messages between the node stream and the executors (our side of the Backend boundary).

Inbound (from the session manager): :class:`Registered`, :class:`BindRequest`,
:class:`TaskRequest`, :class:`ReleaseRequest`, :class:`CancelRequest`, :class:`ReadLogRequest`,
:class:`StatsRequest`, :class:`ExecRequest`, :class:`ExecStopRequest`. Outbound (to the session
manager): :class:`RegisterNode`, :class:`HeartbeatTick`, :class:`ExecutorBound`,
:class:`BindFailed`, :class:`TaskOutcome`, :class:`ExecutorReleased`, :class:`LogData`,
:class:`StatsData`, :class:`ExecOutput`.
``executor.convert`` maps them to/from protobuf.
"""

from __future__ import annotations

from dataclasses import dataclass

from flamepy.taskprobe import ExecChunk, TaskStats
from flamepy.types import ApplicationAttributes, ApplicationContext, Node, ResourceRequirement, Shim


@dataclass(frozen=True)
class SessionContext:
    """flame.v1 SessionContext, passed to OnSessionEnter unchanged."""

    session_id: str
    application: ApplicationContext
    common_data: bytes | None = None


@dataclass(frozen=True)
class TaskRequest:
    """One task pushed to an executor (flame.v1 TaskContext)."""

    executor_id: str
    task_id: str
    session_id: str
    input: bytes | None = None
    attempt: int = 0  # which run of the task (echoed in its TaskOutcome); 0: not given
    timeout: float | None = None  # seconds this attempt may run at the service; None: no limit


# -- inbound ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registered:
    node_name: str
    frontend_endpoint: str = ""
    cache_endpoint: str = ""


@dataclass(frozen=True)
class BindRequest:
    executor_id: str
    application: str
    spec: ApplicationAttributes
    session: SessionContext
    resreq: ResourceRequirement
    gpu_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class ReleaseRequest:
    executor_id: str


@dataclass(frozen=True)
class CancelRequest:
    """Cancel one task of an executor (the session manager already recorded it Cancelled)."""

    executor_id: str
    session_id: str
    task_id: str
    attempt: int = 0
    reason: str = "cancelled"


@dataclass(frozen=True)
class ReadLogRequest:
    """Read bytes of a task's job log on this node (answered with :class:`LogData`)."""

    request_id: int
    session_id: str
    task_id: str
    offset: int = 0
    max_bytes: int = 1 << 20


@dataclass(frozen=True)
class StatsRequest:
    """Measure a running job task on this node (answered with :class:`StatsData`)."""

    request_id: int
    session_id: str
    task_id: str


@dataclass(frozen=True)
class ExecRequest:
    """Run ``argv`` beside a running job task (answered with :class:`ExecOutput` s)."""

    request_id: int
    session_id: str
    task_id: str
    argv: tuple[str, ...]
    timeout_s: float


@dataclass(frozen=True)
class ExecStopRequest:
    """Kill the command of an :class:`ExecRequest` (its caller went away)."""

    request_id: int


InboundMessage = (
    Registered
    | BindRequest
    | TaskRequest
    | ReleaseRequest
    | CancelRequest
    | ReadLogRequest
    | StatsRequest
    | ExecRequest
    | ExecStopRequest
)


# -- outbound --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterNode:
    node: Node
    shims: tuple[Shim, ...] = (Shim.HOST,)


@dataclass(frozen=True)
class HeartbeatTick:
    time_ms: int


@dataclass(frozen=True)
class ExecutorBound:
    executor_id: str


@dataclass(frozen=True)
class BindFailed:
    executor_id: str
    message: str


@dataclass(frozen=True)
class TaskOutcome:
    executor_id: str
    session_id: str
    task_id: str
    return_code: int
    output: bytes | None = None  # None = no output, distinct from b""
    message: str | None = None
    requeue: bool = False
    attempt: int = 0  # the TaskRequest's
    crashed: bool = False  # the service process died running it (not an error the task returned)
    timed_out: bool = False  # its timeout passed: the executor stopped the service
    cancelled: bool = False  # the session manager cancelled it
    service_stopped: bool = False  # the service's process group was stopped to end it

    @classmethod
    def stopped(cls, task: TaskRequest, timed_out: bool, message: str) -> TaskOutcome:
        """The answer for a running task the executor ended by stopping its service."""
        return cls(
            task.executor_id,
            task.session_id,
            task.task_id,
            -1,
            message=message,
            attempt=task.attempt,
            timed_out=timed_out,
            cancelled=not timed_out,
            service_stopped=True,
        )

    @classmethod
    def cancelled_unstarted(cls, task: TaskRequest, reason: str) -> TaskOutcome:
        """The answer for a cancelled task the service never ran (or whose answer is dropped)."""
        return cls(
            task.executor_id,
            task.session_id,
            task.task_id,
            -1,
            message=reason,
            attempt=task.attempt,
            cancelled=True,
        )

    @classmethod
    def requeued(cls, task: TaskRequest, why: str) -> TaskOutcome:
        """The answer for a task that never started: run it again elsewhere."""
        return cls(
            task.executor_id,
            task.session_id,
            task.task_id,
            -1,
            message=why,
            requeue=True,
            attempt=task.attempt,
        )

    @classmethod
    def crash(cls, task: TaskRequest, return_code: int, message: str) -> TaskOutcome:
        """The answer for a task whose service process died while running it."""
        return cls(
            task.executor_id,
            task.session_id,
            task.task_id,
            return_code,
            message=message,
            attempt=task.attempt,
            crashed=True,
        )


@dataclass(frozen=True)
class ExecutorReleased:
    executor_id: str
    message: str | None = None


@dataclass(frozen=True)
class LogData:
    """The answer to a :class:`ReadLogRequest`: bytes from ``offset`` (``error`` says why not)."""

    request_id: int
    data: bytes = b""
    offset: int = 0
    next_offset: int = 0
    eof: bool = False
    size: int = 0
    not_found: bool = False
    error: str = ""


@dataclass(frozen=True)
class StatsData:
    """The answer to a :class:`StatsRequest` (``not_found``/``error`` say why there is none)."""

    request_id: int
    stats: TaskStats | None = None
    not_found: bool = False
    error: str = ""


@dataclass(frozen=True)
class ExecOutput:
    """A piece of an exec's output, or its end (``chunk.done``, or ``not_found``/``not_running``/
    ``error`` when it never started)."""

    request_id: int
    chunk: ExecChunk
    not_found: bool = False
    not_running: bool = False
    error: str = ""


OutboundMessage = (
    RegisterNode
    | HeartbeatTick
    | ExecutorBound
    | BindFailed
    | TaskOutcome
    | ExecutorReleased
    | LogData
    | StatsData
    | ExecOutput
)
