"""``flmctl ps``, ``flmctl status ID`` and ``flmctl cancel ID… | -n GLOB | --all``.

Jobs are named by full id, unique id prefix or name (the newest of that name). ``-o json``: ``ps``
writes one JSON object per job per line (NDJSON), ``status`` one object.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import time
from typing import TYPE_CHECKING

from flamepy.cli import jobs_view
from flamepy.cli.context import CliContext, _isatty
from flamepy.cli.jobs_view import as_connection, usage_errors
from flamepy.errors import InvalidArgumentError

if TYPE_CHECKING:
    from flamepy.connection import Connection
    from flamepy.jobs import Job, JobStatus

PS_COLUMNS = ("", "ID", "NAME", "STATE", "AGE", "RESOURCES", "NODE", "EXIT")


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    ps = sub.add_parser(
        "ps",
        parents=[common],
        help="list jobs (running and pending; -a for all)",
        description="List jobs, newest first.",
    )
    ps.add_argument("-a", "--all", action="store_true", help="include finished jobs")
    ps.add_argument(
        "--state",
        action="append",
        default=[],
        metavar="STATE",
        help="only jobs in STATE (Pending, Running, Succeeded, Failed, Cancelled, Timeout; "
        "repeatable or comma-separated; implies -a)",
    )
    ps.add_argument("--name", metavar="GLOB", help="only jobs whose name matches GLOB")
    ps.add_argument(
        "--label", action="append", default=[], metavar="KEY=VALUE", help="only jobs with this label"
    )
    ps.add_argument("--since", metavar="DURATION", help="only jobs submitted within DURATION (10m, 2h, 1d)")
    ps.add_argument("--limit", type=int, metavar="N", help="at most N jobs (the newest)")
    ps.add_argument("-o", "--output", choices=("table", "json"), default="table")
    ps.set_defaults(handler=ps_run)

    st = sub.add_parser(
        "status",
        parents=[common],
        help="show a job: state, exit code, tasks",
        description="Show one job: state, exit code and reason, times, its tasks.",
    )
    st.add_argument("job", metavar="JOB", help="job id, unique id prefix, or name")
    st.add_argument("-o", "--output", choices=("table", "json"), default="table")
    st.set_defaults(handler=status_run)

    cancel = sub.add_parser(
        "cancel",
        parents=[common],
        help="cancel jobs (idempotent)",
        description="Cancel jobs: pending tasks are dropped, running commands "
        "stopped (SIGTERM, then SIGKILL). A finished job is left as it is.",
    )
    cancel.add_argument("jobs", nargs="*", metavar="JOB", help="job id, unique id prefix, or name")
    cancel.add_argument("-n", "--name", metavar="GLOB", help="every unfinished job whose name matches GLOB")
    cancel.add_argument("--all", action="store_true", help="every unfinished job")
    cancel.add_argument("-y", "--yes", action="store_true", help="do not ask before --all")
    cancel.set_defaults(handler=cancel_run)


def _labels(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgumentError(f"--label: expected KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def _states(items: list[str]) -> list[str] | None:
    names = [s.strip() for item in items for s in item.split(",") if s.strip()]
    return names or None


def _nodes(conn: Connection) -> dict[str, str]:
    """Session id → the node(s) its executors are on."""
    found: dict[str, set[str]] = {}
    for ex in conn.list_executors():
        if ex.session_id:
            found.setdefault(ex.session_id, set()).add(ex.node)
    return {sid: ",".join(sorted(nodes)) for sid, nodes in found.items()}


def _select(ctx: CliContext, conn: Connection) -> list[tuple[Job, JobStatus]]:
    from flamepy import jobs
    from flamepy.jobs.client import parse_states
    from flamepy.jobs.values import parse_duration

    args = ctx.args
    states = parse_states(_states(args.state))
    found = jobs.list(name=args.name, labels=_labels(args.label), conn=conn)
    if args.since:
        window = parse_duration(args.since, "--since") or 0
        found = [j for j in found if j.info.submitted_ms >= (time.time() - window) * 1000]
    found.reverse()  # newest first
    out = []
    for job in found:
        status = job.describe()
        if states is not None and status.state not in states:
            continue
        if states is None and not args.all and status.state.finished:
            continue
        out.append((job, status))
        if args.limit is not None and len(out) >= args.limit:
            break
    return out


@usage_errors
def ps_run(ctx: CliContext) -> int:
    if ctx.args.limit is not None and ctx.args.limit < 1:
        raise InvalidArgumentError(f"--limit: expected a whole number >= 1, got {ctx.args.limit}")
    with jobs_view.connection(ctx) as raw:
        conn = as_connection(raw)
        selected = _select(ctx, conn)
        nodes = _nodes(conn) if selected else {}
    if ctx.json_output:
        for job, status in selected:
            ctx.stdout.write(json.dumps(jobs_view.job_json(job, status, nodes.get(job.id, ""))) + "\n")
        return 0
    if not selected:
        ctx.out.print(
            "No jobs." if ctx.args.all or ctx.args.state else "No running jobs (flmctl ps -a shows all)."
        )
        return 0
    table = jobs_view.table(ctx, PS_COLUMNS)
    color = _isatty(ctx.stdout)
    now = time.time()
    for job, status in selected:
        table.add_row(
            jobs_view.dot(status.state.value, color),
            job.id,
            job.name,
            status.state.value,
            jobs_view.age(status.submitted_ms, now),
            job.info.resources_text,
            nodes.get(job.id, "-"),
            "" if status.exit_code is None else str(status.exit_code),
        )
    ctx.out.print(table)
    return 0


def _status_pairs(job: Job, status: JobStatus) -> list[tuple[str, str]]:
    info = job.info
    pairs = [
        ("id", job.id),
        ("name", job.name),
        ("state", status.state.value),
        ("exit code", "-" if status.exit_code is None else str(status.exit_code)),
        ("reason", status.reason or "-"),
        ("command", info.command),
        ("resources", f"{info.resources_text} per task"),
        ("workdir", info.workdir),
        ("submitted", jobs_view.when(status.submitted_ms)),
        ("started", jobs_view.when(status.started_ms)),
        ("finished", jobs_view.when(status.finished_ms)),
    ]
    if info.labels:
        pairs.append(("labels", ", ".join(f"{k}={v}" for k, v in sorted(info.labels.items()))))
    return pairs


@usage_errors
def status_run(ctx: CliContext) -> int:
    from flamepy import jobs

    with jobs_view.connection(ctx) as raw:
        job = jobs.get(ctx.args.job, conn=as_connection(raw))
        status = job.describe()
    if ctx.json_output:
        ctx.stdout.write(json.dumps(jobs_view.job_json(job, status)) + "\n")
        return 0
    from flamepy.cli.output import key_values

    ctx.out.print(key_values(f"Job {job.id}", _status_pairs(job, status)))
    table = jobs_view.table(ctx, ("TASK", "ID", "RANK", "ARRAY", "STATE", "EXIT", "REASON"))
    for t in status.tasks:
        table.add_row(
            str(t.index),
            t.task_id,
            str(t.rank),
            "-" if t.array_index is None else str(t.array_index),
            t.state.value,
            "-" if t.exit_code is None else str(t.exit_code),
            t.reason or "-",
        )
    ctx.out.print(table)
    return 0


def _targets(ctx: CliContext, conn: Connection) -> list[Job]:
    from flamepy import jobs
    from flamepy.jobs.client import resolve

    args = ctx.args
    if not args.jobs and not args.name and not args.all:
        raise InvalidArgumentError("cancel: name jobs (JOB..., -n GLOB or --all)")
    if args.all and not args.yes:
        if not _isatty(ctx.stdout):
            raise InvalidArgumentError("cancel --all: add --yes to cancel every unfinished job")
        answer = input("cancel every unfinished job? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise InvalidArgumentError("cancel --all: not confirmed")
    every = jobs.list(conn=conn)
    infos = [j.info for j in every]
    chosen: dict[str, Job] = {}
    for key in args.jobs:
        info = resolve(infos, key)
        chosen[info.id] = next(j for j in every if j.id == info.id)
    if args.name or args.all:
        for job in every:
            if (args.all or fnmatch.fnmatchcase(job.name, args.name)) and not job.status.finished:
                chosen[job.id] = job
    return list(chosen.values())


@usage_errors
def cancel_run(ctx: CliContext) -> int:
    with jobs_view.connection(ctx) as raw:
        conn = as_connection(raw)
        targets = _targets(ctx, conn)
        if not targets:
            ctx.stderr.write("no unfinished job matches; nothing to cancel\n")
            return 0
        for job in targets:
            _cancel_one(ctx, job)
    return 0


def _cancel_one(ctx: CliContext, job: Job) -> None:
    if job.cancel():
        ctx.stdout.write(f"cancelled {job.id} ({job.name})\n")
    else:
        ctx.stdout.write(f"{job.id} ({job.name}) had already finished: {job.status.value}\n")
