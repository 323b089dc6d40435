"""Typed stimuli of the broker core: everything that can change its state, one frozen dataclass each.

The core's one entry point is ``Core.handle(event)``; the type parameter of :class:`Stimulus` is
what ``handle`` returns for that event, so the shell's calls stay typed.

* Client requests (built by the shell's API, ``session_manager.broker``): :class:`RegisterApplication`,
  :class:`UpdateApplication`, :class:`UnregisterApplication`, :class:`CreateSession`,
  :class:`OpenSession`, :class:`CloseSession`, :class:`DeleteSession`, :class:`CreateTasks`,
  :class:`CancelTask`.
* From executor managers (decoded by ``session_manager.backend_convert``; the counterpart of
  ``executor.events``' outbound messages): :class:`NodeRegistered`, :class:`NodeHeartbeat`,
  :class:`ExecutorBound`, :class:`BindFailed`, :class:`TaskResults` (of :class:`TaskOutcome`),
  :class:`ExecutorReleased`; and :class:`NodeLost` when a node's stream ends.
* From the shell itself: :class:`Recover` (start-up), :class:`TasksDurable` (a commit finished),
  :class:`SchedulePass` (the scheduler loop woke up), :class:`CheckResources` (nodes or sessions
  came or went, or its timer fired), :class:`CheckDeadlines` (a task or release backstop is due).

A new RPC that changes state gets one event here and one handler in ``session_manager.core``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from flamepy.taskprobe import ExecChunk, TaskStats
from flamepy.types import (
    Application,
    ApplicationAttributes,
    ResourceRequirement,
    SessionAttributes,
    Shim,
    Task,
    TaskState,
)
from session_manager.effects import RetryPolicy, SaveSession, TaskRun
from session_manager.model import AppRecord, SessionRecord, TaskRecord

R = TypeVar("R")


class Stimulus(Generic[R]):
    """Base of every event; ``R`` is what ``Core.handle`` returns for it."""

    __slots__ = ()


# -- client requests -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterApplication(Stimulus[AppRecord]):
    name: str
    attrs: ApplicationAttributes


@dataclass(frozen=True, slots=True)
class UpdateApplication(Stimulus[AppRecord]):
    name: str
    attrs: ApplicationAttributes


@dataclass(frozen=True, slots=True)
class UnregisterApplication(Stimulus[None]):
    name: str


@dataclass(frozen=True, slots=True)
class CreateSession(Stimulus[SessionRecord]):
    attrs: SessionAttributes


@dataclass(frozen=True, slots=True)
class OpenSession(Stimulus[SessionRecord]):
    """Open an existing session; create it when ``attrs`` are given and it does not exist."""

    session_id: str
    attrs: SessionAttributes | None = None


@dataclass(frozen=True, slots=True)
class CloseSession(Stimulus[SessionRecord]):
    session_id: str


@dataclass(frozen=True, slots=True)
class DeleteSession(Stimulus[SessionRecord]):
    session_id: str


@dataclass(frozen=True, slots=True)
class CreateTasks(Stimulus[list[TaskRecord]]):
    session_id: str
    inputs: Sequence[bytes | None]


@dataclass(frozen=True, slots=True)
class CreateKeyedTasks(Stimulus[list[str]]):
    """CreateTasks with the client's idempotency keys (``keys[i]`` for ``inputs[i]``; None or ""
    for none): returns the task ids, a key seen before giving the id of the task made with it."""

    session_id: str
    inputs: Sequence[bytes | None]
    keys: Sequence[str | None]


@dataclass(frozen=True, slots=True)
class SetRetryPolicy(Stimulus[RetryPolicy]):
    """Set the retry policy of an application (``kind`` "application") or a session ("session");
    None keeps a field as it is. ``handle`` returns the policy now in effect for the target."""

    kind: str
    name: str
    max_retries: int | None = None
    retry_on_error: bool | None = None
    task_timeout: float | None = None  # seconds; 0 clears it (no limit)


@dataclass(frozen=True, slots=True)
class SetSessionPlacement(Stimulus[bool]):
    """Set a session's placement constraint: ``spread`` puts at most one of its executors on a
    node. ``handle`` returns the setting now in effect."""

    session_id: str
    spread: bool


@dataclass(frozen=True, slots=True)
class CancelTask(Stimulus[Task | None]):
    """Cancel a pending or running task (a finished one is left as it is). ``handle`` returns the
    task as it is now, or None when it is finished and only in storage."""

    session_id: str
    task_id: str
    reason: str = "cancelled by the client"


# -- from executor managers ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeRegistered(Stimulus[None]):
    node: str
    capacity: ResourceRequirement
    shims: tuple[Shim, ...] = ()
    hostname: str = ""
    arch: str = ""
    os: str = ""


@dataclass(frozen=True, slots=True)
class NodeHeartbeat(Stimulus[None]):
    node: str


@dataclass(frozen=True, slots=True)
class NodeLost(Stimulus[None]):
    """The node's stream ended."""

    node: str


@dataclass(frozen=True, slots=True)
class CheckLiveness(Stimulus[float | None]):
    """Declare nodes silent for longer than the node timeout lost; ``handle`` returns seconds until
    the next node could time out (None: no ready node)."""


@dataclass(frozen=True, slots=True)
class ExecutorBound(Stimulus[None]):
    node: str
    executor_id: str


@dataclass(frozen=True, slots=True)
class BindFailed(Stimulus[None]):
    node: str
    executor_id: str
    message: str


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """One task's result as reported by its executor (not an event by itself: see TaskResults)."""

    executor_id: str
    session_id: str
    task_id: str
    return_code: int
    output: bytes | None = None  # None = no output, distinct from b""
    message: str | None = None
    requeue: bool = False  # the task never started: run it again
    attempt: int = 0  # the attempt it reports on; 0: unknown (an older executor manager)
    crashed: bool = False  # the service process died running it: retried under max_retries
    timed_out: bool = False  # past its timeout: the executor stopped its service
    cancelled: bool = False  # ended by a CancelCmd
    service_stopped: bool = False  # its service was stopped to end it: the executor is going away


@dataclass(frozen=True, slots=True)
class TaskResults(Stimulus[None]):
    """One or more results, in the order the node sent them."""

    node: str
    outcomes: Sequence[TaskOutcome]


@dataclass(frozen=True, slots=True)
class ExecutorReleased(Stimulus[None]):
    node: str
    executor_id: str
    message: str | None = None


# -- from the shell ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recover(Stimulus[None]):
    """Rebuild state from storage at start-up: the unfinished ``tasks`` (finished ones are only
    counted, in ``finished``), then register ``default_apps`` if the store had no application."""

    apps: Sequence[Application]
    sessions: Sequence[SaveSession]
    tasks: Sequence[Task]
    finished: Mapping[str, Mapping[TaskState, int]]
    default_apps: Sequence[tuple[str, ApplicationAttributes]] = ()
    runs: Mapping[tuple[str, int], TaskRun] = field(default_factory=dict)  # of unfinished tasks
    keys: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # session -> key -> task id
    policies: Mapping[tuple[str, str], RetryPolicy] = field(default_factory=dict)  # (kind, name) ->
    spread: Collection[str] = ()  # the sessions placed at most one executor per node


@dataclass(frozen=True, slots=True)
class TasksDurable(Stimulus[None]):
    """These task snapshots are committed: finished ones can leave memory."""

    tasks: Sequence[Task]


@dataclass(frozen=True, slots=True)
class SchedulePass(Stimulus[float | None]):
    """Run the scheduler once; ``handle`` returns seconds until a timer-based pass is due."""


@dataclass(frozen=True, slots=True)
class CheckDeadlines(Stimulus[float | None]):
    """Act on backstops that are due: a task whose executor never answered within its timeout plus
    the stop timeout, an executor Releasing for longer than the stop timeout. ``handle`` returns
    seconds until the next one is due (None: none)."""


@dataclass(frozen=True, slots=True)
class CheckResources(Stimulus[float | None]):
    """Can some registered node hold each open session? ``handle`` returns seconds until the next
    decision is due (a session waiting out its grace period), or None."""


@dataclass(frozen=True)
class NodeLogReply:
    """A node's ``log_data``: bytes of a task's log from ``offset``, or why there are none. Not a
    core event: the shell's ``task_logs`` hands it to the read waiting for ``request_id``."""

    request_id: int
    data: bytes
    offset: int
    next_offset: int
    eof: bool
    size: int
    not_found: bool = False
    error: str = ""


@dataclass(frozen=True)
class NodeStatsReply:
    """A node's ``stats_data``: a job task's resource use, or why there is none. Not a core
    event: the shell's ``task_probes`` hands it to the request waiting for ``request_id``."""

    request_id: int
    stats: TaskStats | None
    not_found: bool = False
    error: str = ""


@dataclass(frozen=True)
class NodeExecReply:
    """A node's ``exec_output``: a piece of a command's output or its end (``chunk.done``), or why
    it never started. Not a core event (``task_probes``)."""

    request_id: int
    chunk: ExecChunk
    not_found: bool = False
    not_running: bool = False
    error: str = ""


NodeReply = NodeLogReply | NodeStatsReply | NodeExecReply


NodeEvent = (
    NodeRegistered | NodeHeartbeat | NodeLost | ExecutorBound | BindFailed | TaskResults | ExecutorReleased
)
