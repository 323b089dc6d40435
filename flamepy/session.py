"""A client-side Flame session: tasks one at a time (``create_task``/``invoke``) or many at once (``run``).

Concurrency model: the caller's threads make blocking calls through the connection's transport
(:mod:`flamepy.transport`); ``run()`` costs no thread or stream per task. The first ``run()`` starts
two daemon threads for the session (see :mod:`flamepy._dispatch`): a *watcher* holding one session
watch and a *submitter* sending the queued inputs in batches. Which wire calls these become (the
same-host socket, FrontendExt, or plain flame.v1 on servers without it) is the transport's choice.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from types import TracebackType
from typing import TYPE_CHECKING

from flamepy import _dispatch
from flamepy._dispatch import Dispatcher
from flamepy._outcome import check_input, outcome_error, outcome_of_task, where
from flamepy._task_future import TaskFuture
from flamepy.errors import InvalidStateError, TaskTimeoutError
from flamepy.transport import base
from flamepy.types import Event, SessionAttributes, SessionState, SessionStatus, Task, TaskState

if TYPE_CHECKING:
    from flamepy.connection import Connection

__all__ = ["Session", "TaskWatcher"]

log = logging.getLogger(__name__)


class TaskWatcher(base.TaskWatcher):
    """An iterator of task snapshots over ``stream`` (flamepy 0.6.0's constructor); ``cancel``
    stops the stream (default: its own ``cancel``). ``timeout`` is the one the watch was made with."""

    def __init__(
        self,
        stream: Iterable[Task],
        timeout: float | None = None,
        cancel: Callable[[], object] | None = None,
    ) -> None:
        stop = cancel if cancel is not None else getattr(stream, "cancel", lambda: None)
        super().__init__(iter(stream), stop)
        self.timeout = timeout


class Session:
    """A session of an application on the session manager, bound to one :class:`Connection`.

    Made by the connection (``create_session``, ``open_session`` ...); the constructor takes
    flamepy 0.6.0's arguments. The counters (``pending``, ``running``, ``succeed``, ``failed``) and
    ``state`` are those of the last answer from the server (:meth:`refresh` reloads them).
    """

    id: str
    application: str

    def __init__(
        self,
        connection: Connection,
        id: str,
        application: str,
        state: SessionState = SessionState.OPEN,
        creation_time: int = 0,
        pending: int = 0,
        running: int = 0,
        succeed: int = 0,
        failed: int = 0,
        completion_time: int | None = None,
        common_data: bytes | None = None,
        events: list[Event] | tuple[Event, ...] | None = None,
    ) -> None:
        attrs = SessionAttributes(application, id, common_data)
        status = SessionStatus(
            SessionState(state),
            creation_time,
            completion_time,
            pending,
            running,
            succeed,
            failed,
            events=tuple(events or ()),
        )
        self._setup(connection, attrs, status)

    @classmethod
    def of(cls, conn: Connection, attributes: SessionAttributes, status: SessionStatus) -> Session:
        """The session described by the server's answer."""
        ssn = cls.__new__(cls)
        ssn._setup(conn, attributes, status)
        return ssn

    def _setup(self, conn: Connection, attributes: SessionAttributes, status: SessionStatus) -> None:
        self._conn = conn
        self._transport = conn.transport
        self.id = attributes.id or ""
        self.application = attributes.application
        self.attributes = attributes
        self.status = status
        self._lock = threading.Lock()
        self.mutex = self._lock
        self._dispatcher: Dispatcher | None = None
        self._closed = False

    @property
    def state(self) -> SessionState:
        return self.status.state

    @property
    def creation_time(self) -> int:
        return self.status.creation_time

    @property
    def completion_time(self) -> int | None:
        return self.status.completion_time

    @property
    def pending(self) -> int:
        return self.status.pending

    @property
    def running(self) -> int:
        return self.status.running

    @property
    def succeed(self) -> int:
        return self.status.succeed

    @property
    def failed(self) -> int:
        return self.status.failed

    @property
    def events(self) -> list[Event]:
        return list(self.status.events)

    @property
    def connection(self) -> Connection:
        return self._conn

    def common_data(self) -> bytes | None:
        return self.attributes.common_data

    def refresh(self) -> Session:
        """Reload attributes and status from the server; returns self."""
        self.attributes, self.status = self._transport.get_session(self.id)
        return self

    def __repr__(self) -> str:
        return f"Session(id={self.id!r}, application={self.application!r}, state={self.state.name})"

    # -- one task at a time ----------------------------------------------------------------------

    def create_task(self, input_data: bytes | bytearray | memoryview | None) -> Task:
        return self._transport.create_task(self.id, check_input(input_data))

    def get_task(self, task_id: str) -> Task:
        return self._transport.get_task(self.id, str(task_id))

    def cancel_task(self, task_id: str, reason: str | None = None) -> Task:
        """Cancel a task: a pending one at once; a running one at once too, and its service process
        group is stopped (SIGTERM, then SIGKILL after the node's kill grace), so its executor is
        released and later tasks run on a fresh one; a finished one is left as it is (idempotent).
        Returns the task as it is now; NotFoundError for an unknown task."""
        return self._transport.cancel_task(self.id, str(task_id), reason)

    def list_tasks(self) -> TaskWatcher:
        """Every task of the session, in id order (streamed)."""
        found = self._transport.list_tasks(self.id)
        return TaskWatcher(found, None, found.cancel)

    def watch_task(self, task_id: str, timeout: float | None = None) -> TaskWatcher:
        """Snapshots of the task each time its state changes, ending at the terminal one."""
        found = self._transport.watch_task(self.id, str(task_id), timeout)
        return TaskWatcher(found, timeout, found.cancel)

    def invoke(
        self, input_data: bytes | bytearray | memoryview | None, timeout: float | None = None
    ) -> bytes | None:
        """Run one task and return its output; a Failed task raises an InternalError naming the
        session, the application and the server's message. With ``timeout`` (seconds), waiting
        longer raises :class:`~flamepy.errors.TaskTimeoutError` (the task may still run)."""
        data = check_input(input_data)
        if timeout is None:
            task = self._transport.run_task(self.id, data)
            err = outcome_error(self.id, task.id, outcome_of_task(task), self.application)
            if err is not None:
                raise err
            return task.output
        fut = self.run(data)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TaskTimeoutError(
                f"no result from {where(self.id, self.application)} within {timeout} s; "
                "the task may still run"
            ) from None

    # -- many tasks ------------------------------------------------------------------------------

    def run(self, input_data: bytes | bytearray | memoryview | None) -> Future:
        """Submit a task in the background; the Future resolves to its output (bytes or None).
        ``Future.cancel()`` cancels the task on the server too once it is submitted (see
        :meth:`cancel_task`), returning True when the server cancelled it.

        Blocks while the client-side queue is full (backpressure).
        """
        data = check_input(input_data)
        sid, transport = self.id, self._transport
        fut: Future = TaskFuture(lambda tid: transport.cancel_task(sid, tid, "cancelled by Future.cancel()"))
        self._ensure_dispatcher().enqueue(data, fut)
        return fut

    def _ensure_dispatcher(self) -> Dispatcher:
        with self._lock:
            if self._closed:
                raise InvalidStateError(f"session {self.id!r} is closed")
            if self._dispatcher is None:
                self._conn.track(self)
                self._dispatcher = Dispatcher(self.id, self._transport, self.application)
                self._dispatcher.start()
            return self._dispatcher

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self, cancel_running: bool = False) -> None:
        """Close the session on the server (idempotent); pending futures fail with InvalidStateError.

        Tasks already running finish (flame.v1's CloseSession) unless ``cancel_running``: then, once
        the session is closed (no task starts after that), every task still running is cancelled
        (:meth:`cancel_task`: its service is stopped) and its future fails as cancelled."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            disp = self._dispatcher
        closed = False
        try:
            if disp is not None:
                disp.stop_submitting(f"session {self.id!r} was closed before the task was submitted")
            self.attributes, self.status = self._transport.close_session(self.id)
            closed = True
            if cancel_running:
                self._cancel_running()
        finally:
            if disp is not None:
                disp.shutdown(f"session {self.id!r} was closed", grace=_dispatch.CLOSE_GRACE_S)
            self._conn.forget(self)
            if not closed:  # the server did not close it: let the caller retry
                with self._lock:
                    self._closed, self._dispatcher = False, None

    def _cancel_running(self) -> None:
        running = [t.id for t in self._transport.list_tasks(self.id) if t.state == TaskState.RUNNING]
        for tid in running:
            self._transport.cancel_task(self.id, tid, "session closed")
        if running:
            self.refresh()

    def stop_background(self, reason: str) -> None:
        """Stop the threads without closing the session on the server (connection closing)."""
        with self._lock:
            disp, self._dispatcher = self._dispatcher, None
            self._closed = True
        if disp is not None:
            disp.stop_submitting(reason)
            disp.shutdown(reason, grace=0.0)

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
