"""A job task's log records, read through the session manager (the SDK side of ``ReadTaskLog``).

A job task's runner writes its output as JSON lines on the node that ran it
(:mod:`flamepy.apps.joblog`: ``{"t": ms, "s": "out" | "err" | "sys", "l": text, ...}``);
:meth:`flamepy.Connection.read_task_log` reads bytes of that file through the session manager. This
module turns those bytes into records::

    conn = flamepy.Connection(endpoint)
    for rec in iter_log_records(conn, session_id, task_id):               # what is there now
        print(rec["l"])
    for rec in iter_log_records(conn, session_id, task_id, follow=True):  # until the task ends
        print(rec["s"], rec["l"])
    records, offset = tail_records(conn, session_id, task_id, lines=20)   # the last 20 records
    for rec in iter_log_records(conn, session_id, task_id, follow=True, offset=offset): ...

- Chunks are read from ``offset`` (0: the start; otherwise a line boundary such as the offset
  :func:`tail_records` returns), ``chunk_bytes`` at a time; only complete lines become records (a
  line still being written waits for its newline), lines that are not JSON objects are skipped.
- ``follow=False``: every record in the file now, then the iterator ends. NotFoundError (unknown
  task, not run yet, not a job) and UnavailableError (its node is not connected) reach the caller.
- ``follow=True``: reads on until the task is terminal (checked with ``Connection.get_task`` before
  each pass) and a pass after that has reached the end of the log, so the last records are never
  missed; and, when the log has no ``exit`` record for its latest attempt yet (a cancelled job's
  runner writes its ``cancel`` and ``exit`` records after the session manager recorded the task
  Cancelled), until it has one or ``exit_grace`` seconds (5) passed. While the task is not
  terminal, NotFoundError (it has not started, or its runner has not opened the log yet) and
  UnavailableError (its node is reconnecting) mean "nothing yet": the next pass tries again. If
  the task runs again on another node, reading starts over on that node's log (which holds the
  new attempt, from its ``start`` record on). Between passes it waits ``poll`` seconds: a log has
  no change notification, so this is the SDK's one log poll, bounded by ``deadline`` (seconds;
  past it TaskTimeoutError) and ended early (the iterator returns) when ``stop`` is set.

Concurrency model: blocking generators, each consumed by one thread.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flamepy.errors import NotFoundError, TaskTimeoutError, UnavailableError
from flamepy.tasklog import DEFAULT_LOG_CHUNK_BYTES

if TYPE_CHECKING:
    from flamepy.connection import Connection

__all__ = ["EXIT_GRACE_S", "iter_log_records", "tail_records"]

_END = 1 << 62  # an offset past any log: the answer says the log's size
EXIT_GRACE_S = 5.0  # how long following waits for an ended task's ``exit`` record


@dataclass
class _Cursor:
    """Where reading stands: the node read from, the next offset, an incomplete last line."""

    offset: int = 0
    node: str = ""
    partial: bytes = b""
    exited: bool = False  # the last attempt's ``exit`` record was read


def _records(data: bytes) -> Iterator[dict[str, Any]]:
    for line in data.split(b"\n"):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            yield record


def _drain(conn: Connection, sid: str, tid: str, cur: _Cursor, chunk_bytes: int) -> Iterator[dict[str, Any]]:
    """The complete records from ``cur`` to the end of the log as it is now."""
    while True:
        chunk = conn.read_task_log(sid, tid, cur.offset, chunk_bytes)
        if cur.node and chunk.node != cur.node:  # the task ran again elsewhere: that log from 0
            cur.offset, cur.partial, cur.node = 0, b"", chunk.node
            continue
        cur.node = chunk.node
        data = cur.partial + chunk.data
        complete, newline, rest = data.rpartition(b"\n")
        cur.partial = rest if newline else data
        cur.offset = chunk.next_offset
        for record in _records(complete):
            if record.get("e") in ("start", "exit"):
                cur.exited = record["e"] == "exit"
            yield record
        if chunk.eof or not chunk.data:
            return


def iter_log_records(
    conn: Connection,
    session_id: str,
    task_id: str,
    follow: bool = False,
    poll: float = 0.25,
    deadline: float | None = None,
    *,
    offset: int = 0,
    chunk_bytes: int = DEFAULT_LOG_CHUNK_BYTES,
    stop: threading.Event | None = None,
    exit_grace: float = EXIT_GRACE_S,
) -> Iterator[dict[str, Any]]:
    """The task's log records in order (see the module docstring for ``follow`` and the errors)."""
    cur = _Cursor(offset)
    if not follow:
        yield from _drain(conn, session_id, task_id, cur, chunk_bytes)
        return
    until = None if deadline is None else time.monotonic() + deadline
    ended_at: float | None = None  # when the task was first seen terminal
    while True:
        done = conn.get_task(session_id, task_id).state.is_terminal
        try:
            yield from _drain(conn, session_id, task_id, cur, chunk_bytes)
        except (NotFoundError, UnavailableError):
            if done:
                raise
        else:
            if done:
                ended_at = time.monotonic() if ended_at is None else ended_at
                if cur.exited or time.monotonic() - ended_at >= exit_grace:
                    return
        wait = poll if until is None else min(poll, until - time.monotonic())
        if wait <= 0:
            raise TaskTimeoutError(
                f"the log of task {session_id}/{task_id} was followed for {deadline:g}s; the task still runs"
            )
        if stop is not None:
            if stop.wait(wait):
                return
        else:
            time.sleep(wait)


def tail_records(
    conn: Connection, session_id: str, task_id: str, lines: int, window: int = DEFAULT_LOG_CHUNK_BYTES
) -> tuple[list[dict[str, Any]], int]:
    """The last ``lines`` records within the last ``window`` bytes of the log, and the offset after
    them (pass it to :func:`iter_log_records` to follow on from there). Errors as
    :meth:`Connection.read_task_log`."""
    size = conn.read_task_log(session_id, task_id, _END, 1).size
    start = max(0, size - window)
    chunk = conn.read_task_log(session_id, task_id, start, window)
    data = chunk.data
    if start > 0:  # the first line is cut: drop it
        data = data.partition(b"\n")[2]
    complete, newline, _rest = data.rpartition(b"\n")
    end = chunk.next_offset - len(_rest) if newline else start
    records = list(_records(complete))
    return (records[-lines:] if lines > 0 else []), end
