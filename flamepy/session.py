"""A client-side Flame session: tasks one at a time (``create_task``/``invoke``) or many at once (``run``).

Concurrency model: the caller's threads make blocking RPCs; ``run()`` costs no thread or stream per
task. The first ``run()`` starts two daemon threads for the session (see :mod:`flamepy._dispatch`):

* the *watcher* holds ONE ``FrontendExt.WatchSession`` stream (opened before the first submit) and
  resolves futures from the completions it carries; on a lost stream it reconnects with backoff and
  reconciles the outstanding futures with GetTask/ListTask;
* the *submitter* drains the bounded client-side queue into ``FrontendExt.CreateTasks`` batches.

Servers without ``FrontendExt`` (UNIMPLEMENTED) get the plain flame.v1 calls: CreateTask per task and
a small pool of threads watching tasks with WatchTask.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from types import TracebackType
from typing import TYPE_CHECKING, Any

from flamepy import _dispatch, _rpc
from flamepy._dispatch import Dispatcher
from flamepy._outcome import check_input, outcome_error, outcome_of_task
from flamepy.common import convert as _convert
from flamepy.errors import (
    FlameError,
    InvalidStateError,
    UnavailableError,
)
from flamepy.proto import extensions_pb2, frontend_pb2
from flamepy.types import SessionAttributes, SessionState, SessionStatus, Task

if TYPE_CHECKING:
    from flamepy.connection import Connection

log = logging.getLogger(__name__)


class TaskWatcher:
    """An iterator of snapshots of one task, ending with its terminal state."""

    def __init__(self, call: Any, what: str) -> None:
        self._call = call
        self._what = what

    def __iter__(self) -> TaskWatcher:
        return self

    def __next__(self) -> Task:
        with _rpc.translate(self._what):
            msg = next(self._call, None)
        if msg is None:
            raise StopIteration
        return _convert.task_from_pb(msg)

    def cancel(self) -> None:
        """Stop watching (the next ``next()`` raises)."""
        self._call.cancel()

    close = cancel

    def __enter__(self) -> TaskWatcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cancel()


class Session:
    """A session of an application on the session manager, bound to one :class:`Connection`."""

    def __init__(self, conn: Connection, attributes: SessionAttributes, status: SessionStatus) -> None:
        self._conn = conn
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
        req = frontend_pb2.GetSessionRequest(session_id=self.id)
        msg = self._conn._call(self._conn.frontend.GetSession, req, f"get session {self.id!r}")
        self.attributes, self.status = _convert.session_from_pb(msg)
        return self

    def __repr__(self) -> str:
        return f"Session(id={self.id!r}, application={self.application!r}, state={self.state.name})"

    # -- one task at a time ----------------------------------------------------------------------

    def create_task(self, input_data: bytes | bytearray | memoryview | None) -> Task:
        data = check_input(input_data)
        req = frontend_pb2.CreateTaskRequest()
        req.task.session_id = self.id
        if data is not None:
            req.task.input = data
        what = f"create task in session {self.id!r}"
        return _convert.task_from_pb(self._conn._call(self._conn.frontend.CreateTask, req, what))

    def get_task(self, task_id: str) -> Task:
        req = frontend_pb2.GetTaskRequest(task_id=str(task_id), session_id=self.id)
        what = f"get task {task_id} of session {self.id!r}"
        return _convert.task_from_pb(self._conn._call(self._conn.frontend.GetTask, req, what))

    def list_tasks(self) -> Iterator[Task]:
        """Every task of the session, in id order (streamed)."""
        req = frontend_pb2.ListTaskRequest(session_id=self.id)
        what = f"list tasks of session {self.id!r}"
        with _rpc.translate(what):
            call = self._conn.frontend.ListTask(req)
        return TaskWatcher(call, what)

    def watch_task(self, task_id: str, timeout: float | None = None) -> TaskWatcher:
        """Snapshots of the task each time its state changes, ending at the terminal one."""
        req = frontend_pb2.WatchTaskRequest(task_id=str(task_id), session_id=self.id)
        what = f"watch task {task_id} of session {self.id!r}"
        with _rpc.translate(what):
            call = self._conn.frontend.WatchTask(req, timeout=timeout)
        return TaskWatcher(call, what)

    def invoke(self, input_data: bytes | bytearray | memoryview | None) -> bytes | None:
        """Run one task and return its output; a Failed task raises its service's message."""
        data = check_input(input_data)
        conn = self._conn
        if conn.ext_supported is not False:
            req = extensions_pb2.RunTaskRequest(session_id=self.id)
            if data is not None:
                req.input = data
            what = f"run task in session {self.id!r}"
            local = conn._local_runner()
            if local is not None:
                try:
                    msg = local.run_task(req, what)
                except UnavailableError:
                    conn._local_broken(local)
                    raise
                if msg is not None:
                    return self._outcome_value(_convert.task_from_pb(msg))
                conn._local_broken(local)  # nothing was sent: gRPC below
            try:
                msg = conn._call(conn.frontend_ext.RunTask, req, what)
            except FlameError as err:
                if not _rpc.is_unimplemented(err):
                    raise
                conn.ext_supported = False
            else:
                conn.ext_supported = True
                return self._outcome_value(_convert.task_from_pb(msg))
        last = self.create_task(data)
        for snapshot in self.watch_task(last.id):
            last = snapshot
        return self._outcome_value(last)

    def _outcome_value(self, task: Task) -> bytes | None:
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
                self._conn._track(self)
                self._dispatcher = Dispatcher(self)
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
            req = frontend_pb2.CloseSessionRequest(session_id=self.id)
            what = f"close session {self.id!r}"
            msg = self._conn._call(self._conn.frontend.CloseSession, req, what)
            self.attributes, self.status = _convert.session_from_pb(msg)
            closed = True
        finally:
            if disp is not None:
                disp.shutdown(f"session {self.id!r} was closed", grace=_dispatch.CLOSE_GRACE_S)
            self._conn._forget(self)
            if not closed:  # the server did not close it: let the caller retry
                with self._lock:
                    self._closed, self._dispatcher = False, None

    def _stop_background(self, reason: str) -> None:
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
