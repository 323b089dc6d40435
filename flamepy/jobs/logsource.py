"""Where a job task's log records come from: the one adapter :class:`~flamepy.jobs.handle.Job` and
``flmctl logs``/``run`` read through.

:func:`task_records` yields the JSON-lines records the command application writes per task
(``{"t": ms, "s": "out"|"err"|"sys", "l": line, ...}``, see :mod:`flamepy.apps.joblog`).

- With the session manager's log service (``flamepy.joblogs.iter_log_records`` over
  ``Connection.read_task_log``) the records come live, and ``follow`` streams them as they are
  written until the task ends.
- Without it (a client without :mod:`flamepy.joblogs`, or a session manager answering its read
  with UNIMPLEMENTED before any record came), the records
  come from the task's outcome once it has ended: the task's log file when this machine can read
  it (a local cluster), else the output tail the result carries (as ``out`` records). ``follow``
  then waits for the task to end first; reading a task still running without ``follow`` raises
  :class:`LogsUnavailableError` saying live logs need a newer session manager.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flamepy._rpc import is_unimplemented
from flamepy.apps.joblog import read_records
from flamepy.apps.jobresult import JobResult
from flamepy.errors import FlameError, InvalidStateError, NotFoundError, UnavailableError
from flamepy.types import Task, TaskState

if TYPE_CHECKING:
    from flamepy.connection import Connection
    from flamepy.session import Session

Record = dict[str, Any]
log = logging.getLogger(__name__)

__all__ = ["LogsUnavailableError", "Record", "live_logs_supported", "task_records", "wait_task"]


class LogsUnavailableError(InvalidStateError):
    """The logs of a task cannot be read (yet) through this client and server."""


def _live_reader() -> Any | None:
    """``flamepy.joblogs.iter_log_records`` when this client has it, else None."""
    try:
        module = importlib.import_module("flamepy.joblogs")
    except ImportError:
        return None
    return getattr(module, "iter_log_records", None)


def live_logs_supported(conn: Connection) -> bool:
    """Whether records can be read while a task runs (the client side of it: the module and the
    connection's ``read_task_log``)."""
    return _live_reader() is not None and hasattr(conn, "read_task_log")


def task_records(
    conn: Connection,
    job_id: str,
    task_id: str,
    *,
    follow: bool = False,
    deadline: float | None = None,
    stop: threading.Event | None = None,
) -> Iterator[Record]:
    """The task's log records (see the module docstring); ``deadline`` (seconds, as
    ``iter_log_records`` takes it) bounds a ``follow``, and ``stop`` ends a live ``follow`` as soon
    as it is set (the caller then reads what is left without ``follow``). A task that has not
    started yet has none (without ``follow``)."""
    reader = _live_reader()
    if reader is not None and hasattr(conn, "read_task_log"):
        started = False
        extra = {} if stop is None else {"stop": stop}
        try:
            for record in reader(conn, job_id, task_id, follow=follow, deadline=deadline, **extra):
                started = True
                yield record
            return
        except NotFoundError:
            state = None if started else conn.get_session(job_id).get_task(task_id).state
            if state is None or not (state.is_terminal or (state == TaskState.PENDING and not follow)):
                raise
            if not state.is_terminal:
                return
            # it ended without running (its session can never place it): its message tells why
        except FlameError as exc:
            if started or not is_unimplemented(exc):
                raise
            log.debug("the session manager has no task-log service; logs of %s come from its outcome", job_id)
    until = None if deadline is None else time.monotonic() + deadline
    yield from _from_outcome(conn, job_id, task_id, follow=follow, deadline=until)


def _from_outcome(
    conn: Connection, job_id: str, task_id: str, *, follow: bool, deadline: float | None
) -> Iterator[Record]:
    task = conn.get_session(job_id).get_task(task_id)
    if not task.state.is_terminal and follow:
        task = _wait_terminal(conn, job_id, task_id, deadline)
    if not task.state.is_terminal:
        raise LogsUnavailableError(
            f"task {task_id} of job {job_id} is still {task.state.name.lower()}: live logs need a newer "
            "session manager; its output shows here once the task ends (or use logs -f to wait)"
        )
    yield from records_of_outcome(task)


def _wait_terminal(conn: Connection, job_id: str, task_id: str, deadline: float | None) -> Task:
    return wait_task(conn.get_session(job_id), task_id, deadline)


def wait_task(ssn: Session, task_id: str, deadline: float | None) -> Task:
    """The task once it has ended, or as it is at ``deadline`` (``time.monotonic()``); waits on the
    task's watch stream (no polling)."""
    last = ssn.get_task(task_id)
    while not last.state.is_terminal:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return last
        try:
            for snap in ssn.watch_task(task_id, timeout=left):
                last = snap
        except UnavailableError:  # the watch's own deadline (or a lost stream): look again
            pass
        last = ssn.get_task(task_id)
    return last


def _log_path(task: Task) -> tuple[Path | None, str]:
    """The log file and the output tail a finished job task reports."""
    if task.state == TaskState.SUCCEED:
        try:
            result = JobResult.from_json(task.output or b"")
        except ValueError:
            return None, (task.output or b"").decode("utf-8", "replace")
        return Path(result.log), result.tail
    message = task.message or ""
    head, _, tail = message.partition("\n")
    _, sep, path = head.partition("; log ")
    return (Path(path.strip()) if sep else None), tail


def records_of_outcome(task: Task) -> Iterator[Record]:
    """A finished task's records: its log file when readable here, else its output tail."""
    path, tail = _log_path(task)
    if path is not None and path.is_file():
        yield from read_records(path, latest_attempt=True)
        return
    stamp = task.completion_time or 0
    for line in tail.splitlines():
        yield {"t": stamp, "s": "out", "l": line}
    if task.state != TaskState.SUCCEED and task.message and path is None:
        yield {"t": stamp, "s": "sys", "l": task.message.splitlines()[0], "e": "exit"}
