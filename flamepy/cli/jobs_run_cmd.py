"""``flmctl run``: run a command, a job file or an ``#SBATCH`` script as a job.

Attached by default: the job's stdout and stderr stream to ours and flmctl exits with the
command's exit code (124 when it timed out, 125 when the broker failed it without one). ``-d``
prints the job id and returns; ``--dry-run`` prints the plan; Ctrl-C detaches (the job keeps
running) and says how to reattach or cancel.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from flamepy.cli import jobs_view
from flamepy.cli.context import CliContext
from flamepy.cli.jobs_view import EXIT_BROKER, EXIT_DETACHED, as_connection, usage_errors
from flamepy.errors import FlameError, InvalidArgumentError, NotFoundError

if TYPE_CHECKING:
    from flamepy.connection import Connection
    from flamepy.jobs import Job, JobSpec

DESCRIPTION = """Run a command on the cluster as a job: "CMD" (shell text), -- CMD ARGS (no shell),
a job file (Flow or SkyPilot-style YAML) or an #SBATCH script. Attached by default: output streams
here and flmctl exits with the command's exit code (124 on timeout, 125 when the broker failed it).

The current directory is uploaded (through the object cache) and the tasks run in the node's copy
of it; a --workdir inside it is the task's directory in the copy, one outside it is uploaded
instead. .flameignore (else .gitignore, gitignore syntax) and --exclude leave files out; VCS
folders, virtualenvs and caches never go. A progress bar shows on a terminal, and uploads over
100 MiB warn. --no-upload runs in --workdir (default: here) on the node itself, which suits a
local cluster or nodes sharing the filesystem."""


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from flamepy.jobs.parse_cli import add_run_arguments

    p = sub.add_parser(
        "run",
        parents=[common],
        help="run a command or job file as a job (attached; -d to detach)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_arguments(p)
    p.set_defaults(handler=run)


@usage_errors
def run(ctx: CliContext) -> int:
    from flamepy.jobs import render_dry_run, spec_from_args

    spec = spec_from_args(ctx.args)
    for note in spec.warnings:
        ctx.stderr.write(f"warning: {note}\n")
    if ctx.args.dry_run:
        ctx.stdout.write(render_dry_run(spec, environ=dict(os.environ)).rstrip("\n") + "\n")
        return 0
    with jobs_view.connection(ctx) as conn:
        try:
            return _submit_and_follow(ctx, as_connection(conn), spec)
        except FlameError as exc:
            if isinstance(exc, InvalidArgumentError | NotFoundError):
                raise
            ctx.stderr.write(f"error: {exc.message}\n")
            return EXIT_BROKER


def _submit_and_follow(ctx: CliContext, conn: Connection, spec: JobSpec) -> int:
    from flamepy.cli.upload_view import CliUploadReporter
    from flamepy.jobs import submit

    job = submit(spec, conn, reporter=CliUploadReporter(ctx.stderr, quiet=True))
    tasks = f"{job.info.tasks} task" + ("s" if job.info.tasks != 1 else "")
    if ctx.args.detach:
        ctx.stdout.write(f"{job.id}\n")
        ctx.stderr.write(
            f"job {job.id} ({job.name}) submitted: {tasks}, {job.info.resources_text}\n"
            f"  follow: flmctl logs -f {job.id}    status: flmctl status {job.id}    "
            f"cancel: flmctl cancel {job.id}\n"
        )
        return 0
    ctx.stderr.write(f"job {job.id} ({job.name}): {tasks}, {job.info.resources_text}\n")
    ctx.stderr.flush()
    try:
        return _follow(ctx, job)
    except KeyboardInterrupt:
        ctx.stderr.write(
            f"\ndetached from job {job.id}; it keeps running.\n"
            f"  reattach: flmctl logs -f {job.id}    cancel: flmctl cancel {job.id}\n"
        )
        return EXIT_DETACHED


def _follow(ctx: CliContext, job: Job) -> int:
    from flamepy.jobs import JobState

    multi = job.info.tasks > 1
    for view, record in job.records(follow=True):
        if record.get("s") == "sys":
            continue
        prefix = f"[{view.index}] " if multi else ""
        jobs_view.write_record(record, ctx.stdout, ctx.stderr, prefix=prefix)
    job.wait()
    status = job.describe()
    if status.state == JobState.SUCCEEDED:
        return 0
    code = status.exit_code
    detail = f"exit code {code}" if code is not None else (status.reason or "no exit code")
    unrun = [t for t in status.tasks if t.exit_code is None and t.message and t.state != JobState.SUCCEEDED]
    if code is None and unrun:  # a task that ended without running says why (e.g. cannot be placed)
        detail += f" (task {unrun[0].index}: {unrun[0].message.splitlines()[0]})"
    ctx.stderr.write(f"job {job.id} ({job.name}) {status.state.value}: {detail}\n")
    if code is None:
        return EXIT_BROKER if status.state != JobState.CANCELLED else EXIT_DETACHED
    return code if 0 < code < 256 else EXIT_BROKER
