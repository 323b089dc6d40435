"""``flmctl dev [-c CMD] [--status] [--stop] [-v]``: the inner loop on a warm dev session.

The first ``flmctl dev`` in a directory opens its dev session and uploads the directory; each
``flmctl dev -c 'python train.py'`` uploads only what changed since (deleted files are deleted on
the node's copy too), runs the command as a task in that session with its output streamed live,
and exits with the command's exit code. ``--status`` shows the session, ``--stop`` closes it.
What a sync sent is one ``synced N file(s), deleted M ...`` line on stderr (nothing when nothing
changed, unless ``-v``, which also times the command).
See :mod:`flamepy.jobs.dev` for the state and the archives.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import threading
import time
from typing import TYPE_CHECKING

from flamepy.cli import jobs_view
from flamepy.cli.context import CliContext
from flamepy.cli.jobs_view import EXIT_BROKER, EXIT_DETACHED, as_connection, usage_errors
from flamepy.errors import FlameError, InvalidArgumentError, NotFoundError

if TYPE_CHECKING:
    from flamepy.connection import Connection
    from flamepy.jobs.dev import DevState, SyncResult
    from flamepy.session import Session
    from flamepy.types import Task

DEV_ENV = {"PYTHONUNBUFFERED": "1"}  # Python's output streams line by line, as on a terminal

DESCRIPTION = """The inner loop: a warm session of the command application that keeps a synced copy
of this directory. The first run opens it and uploads the directory (.flameignore, else .gitignore,
applies); each `flmctl dev -c CMD` uploads only the files changed since (deleted files are deleted
on the copy too), runs CMD in the copy with its output streamed here, and exits with its exit code.
The session is remembered per directory in ~/.flame/dev/ (owner-only)."""


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "dev",
        parents=[common],
        help="run commands in a warm session with a synced copy of this directory",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "-c", "--command", dest="dev_command", metavar="CMD", help="shell text to run in the synced copy"
    )
    p.add_argument("--status", action="store_true", help="show this directory's dev session")
    p.add_argument("--stop", action="store_true", help="close this directory's dev session")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="leave out of the sync")
    p.add_argument("-o", "--output", choices=("table", "json"), default="table", help="--status as JSON")
    p.set_defaults(handler=run)


@usage_errors
def run(ctx: CliContext) -> int:
    args = ctx.args
    if sum(bool(x) for x in (args.dev_command, args.status, args.stop)) > 1:
        raise InvalidArgumentError("flmctl dev: give one of -c CMD, --status and --stop")
    here = os.getcwd()
    if args.status:
        return _status(ctx, here)
    with jobs_view.connection(ctx) as raw:
        conn = as_connection(raw)
        try:
            if args.stop:
                return _stop(ctx, conn, here)
            return _sync_and_run(ctx, conn, here)
        except FlameError as exc:
            if isinstance(exc, InvalidArgumentError | NotFoundError):
                raise
            ctx.stderr.write(f"error: {exc.message}\n")
            return EXIT_BROKER


def _status(ctx: CliContext, here: str) -> int:
    from flamepy.jobs.dev import describe, load_state

    state = load_state(here)
    if state is None:
        ctx.stderr.write(f"no dev session for {here} (flmctl dev starts one)\n")
        return 1
    info = describe(state)
    if ctx.json_output:
        ctx.stdout.write(json.dumps(info) + "\n")
        return 0
    ctx.stdout.write(
        f"session {info['session']} for {info['directory']}\n"
        f"  age {_age(info['age_s'])}, {info['files']} files synced, {info['deltas']} delta upload(s), "
        f"{info['commands']} command(s) run\n"
        f"  last upload: {info['last_sent']} file(s) sent, {info['last_deleted']} deleted\n"
    )
    return 0


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _stop(ctx: CliContext, conn: Connection, here: str) -> int:
    from flamepy.jobs.dev import close

    state = close(conn, here)
    if state is None:
        ctx.stderr.write(f"no dev session for {here}\n")
        return 0
    ctx.stderr.write(f"closed dev session {state.session_id} ({state.directory})\n")
    return 0


def _sync_and_run(ctx: CliContext, conn: Connection, here: str) -> int:
    from flamepy.cli.upload_view import CliUploadReporter
    from flamepy.config import load_context
    from flamepy.jobs.dev import sync

    started = time.monotonic()
    excludes = (*ctx.args.exclude, *load_context().package_excludes)
    state, result = sync(conn, here, excludes, reporter=CliUploadReporter(ctx.stderr, quiet=True))
    if _verbose(ctx) or result.created or result.sent_files or result.deleted_files:
        _say_synced(ctx, state, result, time.monotonic() - started)
    if not ctx.args.dev_command:
        return 0
    return _run_command(ctx, conn, state, ctx.args.dev_command, started)


def _verbose(ctx: CliContext) -> bool:
    return bool(getattr(ctx.args, "verbose", False))


def _say_synced(ctx: CliContext, state: DevState, result: SyncResult, took: float) -> None:
    opened = f"opened dev session {state.session_id}; " if result.created else ""
    ctx.stderr.write(
        f"{opened}synced {result.sent_files} file(s), deleted {result.deleted_files} "
        f"({result.sent_bytes} bytes sent) in {took * 1000:.0f} ms\n"
    )


def _run_command(ctx: CliContext, conn: Connection, state: DevState, command: str, started: float) -> int:
    from flamepy.jobs.dev import launch_for
    from flamepy.jobs.state import JobState, task_view

    ssn = conn.get_session(state.session_id)
    task = ssn.create_task(launch_for(state, command, DEV_ENV).to_task_input())
    state.tasks += 1
    state.save()
    try:
        ended = _stream(ctx, conn, ssn, task.id)
    except KeyboardInterrupt:
        ssn.cancel_task(task.id, "interrupted by the user")
        ctx.stderr.write(f"\ncancelled task {task.id} of dev session {state.session_id}\n")
        return EXIT_DETACHED
    view = task_view(ended)
    if _verbose(ctx):
        ctx.stderr.write(f"task {task.id}: {view.state.value} in {time.monotonic() - started:.3f} s\n")
    if view.state == JobState.SUCCEEDED:
        return 0
    code = view.exit_code
    if code is None or not 0 < code < 256:
        ctx.stderr.write(f"dev task {task.id} {view.state.value}: {view.reason or view.message[:200]}\n")
        return EXIT_BROKER
    return code


def _stream(ctx: CliContext, conn: Connection, ssn: Session, task_id: str) -> Task:
    """Print the task's output live until it ends; the ended task. The log is followed until the
    task's watch says it ended (no waiting for the log's next poll), then read to its end."""
    from flamepy.jobs.logsource import task_records, wait_task

    stop = threading.Event()
    ended: list[Task] = []

    def watch() -> None:
        try:
            ended.append(wait_task(ssn, task_id, None))
        finally:
            stop.set()

    threading.Thread(target=watch, name=f"dev-watch-{task_id}", daemon=True).start()
    shown = 0
    for record in task_records(conn, ssn.id, task_id, follow=True, stop=stop):
        shown += 1
        _show(ctx, record)
    stop.wait()
    with contextlib.suppress(NotFoundError):  # the rest: what was written after the last pass
        for i, record in enumerate(task_records(conn, ssn.id, task_id)):
            if i >= shown:
                _show(ctx, record)
    return ended[0] if ended else wait_task(ssn, task_id, None)


def _show(ctx: CliContext, record: dict[str, object]) -> None:
    if record.get("s") != "sys":
        jobs_view.write_record(record, ctx.stdout, ctx.stderr)
