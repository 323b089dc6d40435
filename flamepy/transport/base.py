"""The SDK's one seam to a session manager: the :class:`Transport` interface, in our own types only.

Everything above it (``Connection``, ``Session``, the ``run()`` dispatcher) speaks the dataclasses of
:mod:`flamepy.types` and the :mod:`flamepy.errors` tree; no generated protobuf type or stub crosses
it. Implementations: :class:`flamepy.transport.grpc.GrpcTransport` (the real one: gRPC, the
same-host socket, protocol fallbacks) and :class:`flamepy.transport.memory.MemoryTransport` (in
memory, for tests).

Concurrency model: a transport is shared by every thread of a connection; every method may be
called from any thread and blocks its caller only. Streams (:class:`TaskWatcher`,
:class:`SessionWatch`) are consumed by one thread and cancelled from any.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from flamepy.errors import FlameError
from flamepy.tasklog import TaskLogChunk
from flamepy.taskprobe import ExecChunk, TaskStats
from flamepy.types import (
    Application,
    ApplicationAttributes,
    Executor,
    Node,
    RetryPolicy,
    SessionAttributes,
    SessionStatus,
    Task,
    TaskCompletion,
)

SessionInfo = tuple[SessionAttributes, SessionStatus]


@dataclass(frozen=True, slots=True)
class TaskWatchError:
    """A task the watch could not follow to its end (one WatchTask of the per-task fallback broke)."""

    task_id: str
    error: FlameError


@dataclass(frozen=True, slots=True)
class WatchRegistered:
    """The server registered the session watch: every later completion comes through it.

    ``per_task``: the server has no session-wide watch; the watch follows exactly the tasks given to
    :meth:`SessionWatch.track`.
    """

    per_task: bool


WatchItem = TaskCompletion | TaskWatchError
WatchBatch = list[WatchItem]


class TaskWatcher:
    """An iterator of snapshots of tasks (one task's states, or a session's task list).

    ``cancel()`` (alias ``close()``) stops it from any thread; the next ``next()`` raises.
    """

    def __init__(self, items: Iterator[Task], cancel: Callable[[], object]) -> None:
        self._items = items
        self._cancel = cancel

    def __iter__(self) -> TaskWatcher:
        return self

    def __next__(self) -> Task:
        return next(self._items)

    def cancel(self) -> None:
        """Stop watching (the next ``next()`` raises)."""
        self._cancel()

    close = cancel

    def __enter__(self) -> TaskWatcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cancel()


class SessionWatch(Protocol):
    """One attempt at watching a session's completions.

    Iterating yields one :class:`WatchRegistered` first (once the server has registered the watch),
    then batches of completions. It ends when the server ends the watch, raises a FlameError when
    the watch breaks, and ends (or raises) soon after :meth:`cancel`.
    """

    def __iter__(self) -> Iterator[WatchRegistered | WatchBatch]: ...

    def track(self, task_ids: list[str]) -> None:
        """Follow these tasks too (needed only by a per-task watch; a session watch ignores it)."""

    def cancel(self) -> None: ...


class Transport(Protocol):
    """What the SDK asks of a session manager. Errors are FlameErrors; a closed transport raises
    InvalidStateError."""

    endpoint: str
    #: seconds a read, a watch or a keyed submission is retried after the session manager became
    #: unreachable (0: never); see :mod:`flamepy.transport.retry`
    retry_deadline: float

    @property
    def closed(self) -> bool: ...

    def close(self) -> None: ...

    # applications
    def register_application(self, name: str, attrs: ApplicationAttributes) -> None: ...
    def unregister_application(self, name: str) -> None: ...
    def update_application(self, name: str, attrs: ApplicationAttributes) -> None: ...
    def get_application(self, name: str) -> Application:
        """The application; NotFoundError when there is none."""
        ...

    def list_applications(self) -> list[Application]: ...

    # sessions
    def create_session(self, session_id: str, attrs: SessionAttributes) -> SessionInfo: ...
    def open_session(self, session_id: str, spec: SessionAttributes | None) -> SessionInfo: ...
    def get_session(self, session_id: str) -> SessionInfo: ...
    def list_sessions(self) -> list[SessionInfo]: ...
    def close_session(self, session_id: str) -> SessionInfo: ...

    # tasks
    def create_task(self, session_id: str, data: bytes | None) -> Task: ...
    def create_tasks(
        self, session_id: str, inputs: list[bytes | None], keys: list[str] | None = None
    ) -> tuple[list[str], FlameError | None]:
        """Ids of the tasks created, in input order, and the error that stopped creating the rest.

        ``keys`` (one per input, unique in the session) are sent as idempotency keys where the server
        takes them (:attr:`keyed_submit`): the same key again gives the same task id."""
        ...

    @property
    def keyed_submit(self) -> bool | None:
        """Whether ``create_tasks`` sends idempotency keys (so a failed call may be repeated):
        None while unknown (the next call sends them), False on a server without them."""
        ...

    def run_task(self, session_id: str, data: bytes | None) -> Task:
        """Create a task and wait for it: its terminal (or last seen) state."""
        ...

    def get_task(self, session_id: str, task_id: str) -> Task: ...
    def cancel_task(self, session_id: str, task_id: str, reason: str | None = None) -> Task:
        """Cancel a pending or running task (a running one's service is stopped); a finished one is
        returned as it is. NotFoundError for an unknown task."""
        ...

    def read_task_log(self, session_id: str, task_id: str, offset: int, max_bytes: int) -> TaskLogChunk:
        """Bytes of a job task's log from ``offset`` (``max_bytes`` 0: the server's default), read by
        the session manager from the node that ran the task's latest attempt. NotFoundError: unknown
        task, never ran, or no log (not a job); UnavailableError: that node is not reachable (not
        retried: the caller decides)."""
        ...

    def task_stats(self, session_id: str, task_id: str) -> TaskStats:
        """A running job task's resource use, measured on its node. InvalidStateError: the task is
        not running; NotFoundError: unknown task or not a job; UnavailableError: node unreachable."""
        ...

    def exec_in_task(
        self, session_id: str, task_id: str, argv: list[str], timeout_s: float = 0.0
    ) -> Iterator[ExecChunk]:
        """Run ``argv`` on the node of a running job task, in its working directory with its
        environment: its output as it comes, then a chunk with ``done`` and the exit code (errors
        as :meth:`task_stats`, raised before the first chunk). Leaving the iterator early stops
        the command."""
        ...

    def list_tasks(self, session_id: str) -> TaskWatcher: ...
    def watch_task(self, session_id: str, task_id: str, timeout: float | None = None) -> TaskWatcher: ...
    def watch_session(self, session_id: str) -> SessionWatch: ...

    # retry policies
    def set_retry_policy(
        self,
        application: str | None,
        session_id: str | None,
        max_retries: int | None,
        retry_on_error: bool | None,
        task_timeout: float | None,
    ) -> RetryPolicy:
        """Set the policy of one session (``session_id``) or else one application; None fields keep
        their value, a ``task_timeout`` of 0 clears the limit. The policy now in effect for it."""
        ...

    def set_session_placement(self, session_id: str, spread: bool) -> bool:
        """Set a session's placement constraint (``spread``: at most one of its executors per
        node); the setting now in effect."""
        ...

    # capability learnt by the run() dispatcher's first batch
    @property
    def watch_headers_early(self) -> bool | None:
        """None: unknown yet; True: a session watch says it is registered before any completion;
        False: only with its first completion (the first batch should not wait for it)."""
        ...

    def learn_watch_headers_early(self, early: bool) -> None: ...

    # executors and nodes
    def list_executors(self) -> list[Executor]: ...
    def list_nodes(self) -> list[Node]: ...
    def get_node(self, name: str) -> Node: ...
