"""``flmctl logs JOB [-f] [--tail N] [--since 10m] [--timestamps] [--task N]``.

The command's stdout goes to stdout and its stderr to stderr; a job of several tasks prefixes
each line with ``[N]``, the task's index (``--task N`` shows one). Where the records come from —
live from the session manager, or from the finished task — is :mod:`flamepy.jobs.logsource`'s
business.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from flamepy.cli import jobs_view
from flamepy.cli.context import CliContext
from flamepy.cli.jobs_view import EXIT_DETACHED, as_connection, usage_errors
from flamepy.errors import InvalidArgumentError

if TYPE_CHECKING:
    from flamepy.jobs import Job, TaskView


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "logs",
        parents=[common],
        help="show a job's output (-f to follow)",
        description="Show a job's output: stdout to stdout, stderr to stderr.",
    )
    p.add_argument("job", metavar="JOB", help="job id, unique id prefix, or name")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing until the job ends")
    p.add_argument("--tail", type=int, metavar="N", help="only the last N lines (per task)")
    p.add_argument("--since", metavar="DURATION", help="only lines from the last DURATION (10m, 2h)")
    p.add_argument("-t", "--timestamps", action="store_true", help="prefix each line with its time")
    p.add_argument("--task", type=int, metavar="N", help="only task N (its index, as flmctl status shows)")
    p.add_argument("--system", action="store_true", help="also show the runner's notes (start, exit...)")
    p.set_defaults(handler=run)


def _wanted(record: dict[str, Any], since_ms: int | None, system: bool) -> bool:
    if record.get("s") == "sys" and not system:
        return False
    return since_ms is None or int(record.get("t", 0)) >= since_ms


def _one_task(job: Job, view: TaskView, follow: bool, tail: int | None) -> Iterator[dict[str, Any]]:
    """The task's records, the first ``len - tail`` left out when ``tail`` is given."""
    from flamepy.jobs.logsource import LogsUnavailableError, task_records

    conn = job.connection
    if tail is None:
        yield from task_records(conn, job.id, view.task_id, follow=follow)
        return
    try:
        now = [r for r in task_records(conn, job.id, view.task_id) if r.get("s") != "sys"]
    except LogsUnavailableError:
        if not follow:
            raise
        now = []
    skip = max(0, len(now) - tail)
    seen = 0
    source = task_records(conn, job.id, view.task_id, follow=True) if follow else iter(now)
    for record in source:
        if record.get("s") != "sys":
            seen += 1
            if seen <= skip:
                continue
        yield record


@usage_errors
def run(ctx: CliContext) -> int:
    from flamepy import jobs
    from flamepy.jobs.values import parse_duration

    args = ctx.args
    if args.tail is not None and args.tail < 0:
        raise InvalidArgumentError(f"--tail: expected a whole number >= 0, got {args.tail}")
    since_ms = None
    if args.since:
        since_ms = int((time.time() - (parse_duration(args.since, "--since") or 0)) * 1000)
    with jobs_view.connection(ctx) as raw:
        job = jobs.get(args.job, conn=as_connection(raw))
        views = job.tasks()
        if args.task is not None:
            views = [v for v in views if v.index == args.task]
            if not views:
                raise InvalidArgumentError(f"job {job.id} ({job.name}) has no task {args.task}")
        multi = job.info.tasks > 1 and args.task is None
        try:
            for view in views:
                prefix = f"[{view.index}] " if multi else ""
                for record in _one_task(job, view, args.follow, args.tail):
                    if _wanted(record, since_ms, args.system):
                        jobs_view.write_record(
                            record, ctx.stdout, ctx.stderr, prefix=prefix, timestamps=args.timestamps
                        )
        except KeyboardInterrupt:
            return EXIT_DETACHED
    return 0
