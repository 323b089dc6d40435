"""What the job commands share: the connection, exit codes, how jobs and log records look.

Exit codes of the job commands: 0 done; 2 a usage error — an unknown job, a bad job file or
option (one ``error:`` line on stderr); ``flmctl run`` attached exits with the command's own code
(124 timeout) and 125 when the broker failed it.
"""

from __future__ import annotations

import datetime
import functools
import time
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any, cast

from rich import box
from rich.table import Table
from rich.text import Text

from flamepy.cli.context import CliContext, _isatty
from flamepy.errors import InvalidArgumentError, NotFoundError

if TYPE_CHECKING:
    from flamepy.connection import Connection
    from flamepy.jobs.handle import Job, JobStatus
    from flamepy.jobs.state import TaskView

EXIT_USAGE = 2
EXIT_BROKER = 125
EXIT_DETACHED = 130
STATE_STYLES = {
    "Pending": "yellow",
    "Running": "green",
    "Succeeded": "blue",
    "Failed": "red",
    "Timeout": "red",
    "Cancelled": "bright_black",
}
DOT = "●"


def usage_errors(handler: Callable[[CliContext], int]) -> Callable[[CliContext], int]:
    """Unknown jobs and bad input (job files, options) → one ``error:`` line, exit 2."""

    @functools.wraps(handler)
    def wrapped(ctx: CliContext) -> int:
        try:
            return handler(ctx)
        except (InvalidArgumentError, NotFoundError) as exc:
            ctx.stderr.write(f"error: {exc.message}\n")
            return EXIT_USAGE

    return wrapped


def connection(ctx: CliContext) -> Any:
    """The context manager of a real :class:`flamepy.Connection` (the jobs API needs one)."""
    return ctx.connect()


def as_connection(conn: object) -> Connection:
    return cast("Connection", conn)


def age(ms: int | None, now: float | None = None) -> str:
    """``45s``, ``3m``, ``2h``, ``5d`` since ``ms``."""
    if not ms:
        return "-"
    seconds = max(0, int((now if now is not None else time.time()) - ms / 1000))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def when(ms: int | None) -> str:
    if not ms:
        return "-"
    return datetime.datetime.fromtimestamp(ms / 1000).astimezone().isoformat(timespec="seconds")


def dot(state: str, color: bool) -> Text:
    """The state dot: coloured on a terminal (unless NO_COLOR), plain otherwise."""
    return Text(DOT, style=STATE_STYLES.get(state, "") if color else "")


def table(ctx: CliContext, columns: Iterable[str]) -> Table:
    """A table: boxed on a terminal, plain columns in a pipe."""
    tty = _isatty(ctx.stdout)
    out = Table(box=box.SIMPLE_HEAD if tty else None, header_style="bold" if tty else "", pad_edge=False)
    for col in columns:
        out.add_column(col, overflow="fold")
    return out


def task_json(view: TaskView) -> dict[str, Any]:
    return {
        "index": view.index,
        "task_id": view.task_id,
        "rank": view.rank,
        "array_index": view.array_index,
        "state": view.state.value,
        "exit_code": view.exit_code,
        "reason": view.reason,
        "created_ms": view.created_ms,
        "completed_ms": view.completed_ms,
    }


def job_json(job: Job, status: JobStatus, node: str = "") -> dict[str, Any]:
    info = job.info
    return {
        "id": job.id,
        "name": job.name,
        "state": status.state.value,
        "exit_code": status.exit_code,
        "reason": status.reason,
        "command": info.command,
        "labels": dict(info.labels),
        "resources": dict(info.resources),
        "node": node or None,
        "submitted_ms": status.submitted_ms,
        "started_ms": status.started_ms,
        "finished_ms": status.finished_ms,
        "workdir": info.workdir,
        "tasks": [task_json(t) for t in status.tasks],
    }


def format_record(record: dict[str, Any], *, prefix: str = "", timestamps: bool = False) -> str:
    """One log record as a line: ``[prefix] [time] text``."""
    head = prefix
    if timestamps:
        stamp = datetime.datetime.fromtimestamp(int(record.get("t", 0)) / 1000).astimezone()
        head += stamp.isoformat(timespec="milliseconds") + " "
    return f"{head}{record.get('l', '')}\n"


def write_record(
    record: dict[str, Any], out: IO[str], err: IO[str], *, prefix: str = "", timestamps: bool = False
) -> None:
    """stdout records to ``out``, stderr (and runner notes) to ``err``, flushed at once."""
    stream = out if record.get("s") == "out" else err
    stream.write(format_record(record, prefix=prefix, timestamps=timestamps))
    stream.flush()
