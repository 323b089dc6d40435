"""A client-side Flame session: tasks one at a time (``create_task``/``invoke``) or many at once (``run``).

Concurrency model: the caller's threads make blocking calls through the connection's transport
(:mod:`flamepy.transport`); ``run()`` costs no thread or stream per task. The first ``run()`` starts
two daemon threads for the session (see :mod:`flamepy._dispatch`): a *watcher* holding one session
watch and a *submitter* sending the queued inputs in batches. Which wire calls these become (the
same-host socket, FrontendExt, or plain flame.v1 on servers without it) is the transport's choice.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from types import TracebackType
from typing import TYPE_CHECKING

from flamepy import _dispatch
from flamepy._dispatch import Dispatcher
from flamepy._outcome import check_input, outcome_error, outcome_of_task
from flamepy.errors import InvalidStateError
from flamepy.transport.base import TaskWatcher
from flamepy.types import SessionAttributes, SessionState, SessionStatus, Task

if TYPE_CHECKING:
    from flamepy.connection import Connection

__all__ = ["Session", "TaskWatcher"]

log = logging.getLogger(__name__)


class Session:
    """A session of an application on the session manager, bound to one :class:`Connection`."""

    def __init__(self, conn: Connection, attributes: SessionAttributes, status: SessionStatus) -> None:
        self._conn = conn
        self._transport = conn.transport
        self.id: str = attributes.id or ""
        self.application: str = attributes.application
        self.attributes = attributes
        self.status = status
        self._lock = threading.Lock()
        self._dispatcher: Dispatcher | None = None
        self._closed = False

    @property
    def state(self) -> SessionState:
        return self.status.state

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

    def list_tasks(self) -> TaskWatcher:
        """Every task of the session, in id order (streamed)."""
        return self._transport.list_tasks(self.id)

    def watch_task(self, task_id: str, timeout: float | None = None) -> TaskWatcher:
        """Snapshots of the task each time its state changes, ending at the terminal one."""
        return self._transport.watch_task(self.id, str(task_id), timeout)

    def invoke(self, input_data: bytes | bytearray | memoryview | None) -> bytes | None:
        """Run one task and return its output; a Failed task raises its service's message."""
        task = self._transport.run_task(self.id, check_input(input_data))
        err = outcome_error(self.id, task.id, outcome_of_task(task))
        if err is not None:
            raise err
        return task.output

    # -- many tasks ------------------------------------------------------------------------------

    def run(self, input_data: bytes | bytearray | memoryview | None) -> Future:
        """Submit a task in the background; the Future resolves to its output (bytes or None).

        Blocks while the client-side queue is full (backpressure).
        """
        data = check_input(input_data)
        fut: Future = Future()
        self._ensure_dispatcher().enqueue(data, fut)
        return fut

    def _ensure_dispatcher(self) -> Dispatcher:
        with self._lock:
            if self._closed:
                raise InvalidStateError(f"session {self.id!r} is closed")
            if self._dispatcher is None:
                self._conn.track(self)
                self._dispatcher = Dispatcher(self.id, self._transport)
                self._dispatcher.start()
            return self._dispatcher

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the session on the server (idempotent); pending futures fail with InvalidStateError."""
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
        finally:
            if disp is not None:
                disp.shutdown(f"session {self.id!r} was closed", grace=_dispatch.CLOSE_GRACE_S)
            self._conn.forget(self)
            if not closed:  # the server did not close it: let the caller retry
                with self._lock:
                    self._closed, self._dispatcher = False, None

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
