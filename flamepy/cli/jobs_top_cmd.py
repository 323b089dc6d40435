"""``flmctl top [JOB] [--once] [-o json]``: live CPU, memory and GPU use of running jobs.

One row per running task (a job array or a multi-node job has several): its node, the pids of
its process group, CPU (percent of one core, summed over the group), resident memory, and its
GPUs with their utilisation and the memory the job holds there. On a terminal the table is
redrawn every ``--interval`` seconds (2) until Ctrl-C; with ``--once``, in a pipe or with
``-o json`` one snapshot is printed (JSON: one object per task and line). GPU numbers are ``-``
where the node cannot measure them (no NVIDIA driver, or a fake GPU inventory, FLAME_FAKE_GPUS).
"""

from __future__ import annotations

import argparse
import json
import threading
from typing import TYPE_CHECKING, Any

from flamepy.cli import jobs_view
from flamepy.cli.context import CliContext, _isatty
from flamepy.cli.jobs_view import as_connection, usage_errors
from flamepy.cli.output import human_bytes
from flamepy.errors import FlameError, InvalidArgumentError, InvalidStateError
from flamepy.taskprobe import GpuStats, TaskStats

if TYPE_CHECKING:
    from rich.table import Table

    from flamepy.connection import Connection
    from flamepy.jobs import Job, TaskView

COLUMNS = ("JOB", "NAME", "TASK", "NODE", "PIDS", "CPU%", "MEM", "GPU", "GPU%", "GPU MEM")
Row = tuple["Job", "TaskView", "TaskStats | FlameError"]


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "top",
        parents=[common],
        help="live CPU, memory and GPU use of running jobs",
        description="Show the CPU, memory and GPU use of running jobs (every task), refreshed "
        "live on a terminal; --once, a pipe or -o json print one snapshot.",
    )
    p.add_argument("job", metavar="JOB", nargs="?", help="only this job (id, unique id prefix, or name)")
    p.add_argument("--once", action="store_true", help="print one snapshot and exit")
    p.add_argument("--interval", type=float, default=2.0, metavar="S", help="seconds between refreshes (2)")
    p.add_argument("-o", "--output", choices=("table", "json"), default="table")
    p.set_defaults(handler=run)


def _jobs(conn: Connection, ref: str | None) -> list[Job]:
    from flamepy import jobs

    if ref is None:
        return jobs.list(state="Running", conn=conn)
    job = jobs.get(ref, conn=conn)
    if job.status.finished:
        raise InvalidStateError(f"job {job.id} ({job.name}) is not running ({job.status})")
    return [job]


def snapshot(conn: Connection, ref: str | None) -> list[Row]:
    """Every running task of the selected jobs with its stats (or why there are none)."""
    return [(job, view, stats) for job in _jobs(conn, ref) for view, stats in job.stats()]


def _gpu_json(g: GpuStats) -> dict[str, Any]:
    return {
        "index": g.index,
        "util_percent": g.util_percent,
        "memory_used_bytes": g.memory_used_bytes,
        "memory_total_bytes": g.memory_total_bytes,
    }


def row_json(job: Job, view: TaskView, stats: TaskStats | FlameError) -> dict[str, Any]:
    out: dict[str, Any] = {"job": job.id, "name": job.name, "task": view.index, "task_id": view.task_id}
    if isinstance(stats, FlameError):
        return {**out, "error": stats.message}
    return {
        **out,
        "node": stats.node,
        "pids": list(stats.pids),
        "cpu_percent": stats.cpu_percent,
        "rss_bytes": stats.rss_bytes,
        "gpus": [_gpu_json(g) for g in stats.gpus],
        "running": stats.running,
        "error": None,
    }


def _gpu_cells(gpus: tuple[GpuStats, ...]) -> list[str]:
    if not gpus:
        return ["-", "-", "-"]
    util = [f"{g.util_percent:.0f}" if g.util_percent is not None else "-" for g in gpus]
    mem = [human_bytes(g.memory_used_bytes) if g.memory_used_bytes is not None else "-" for g in gpus]
    return [",".join(str(g.index) for g in gpus), ",".join(util), ",".join(mem)]


def render(ctx: CliContext, rows: list[Row]) -> Table:
    table = jobs_view.table(ctx, COLUMNS)
    for job, view, stats in rows:
        head = [job.id, job.name, str(view.index)]
        if isinstance(stats, FlameError):
            table.add_row(*head, "-", stats.message, *["-"] * 5)
            continue
        pids = ",".join(str(p) for p in stats.pids[:4]) + ("…" if len(stats.pids) > 4 else "")
        cells = [stats.node, pids, f"{stats.cpu_percent:.1f}", human_bytes(stats.rss_bytes)]
        table.add_row(*head, *cells, *_gpu_cells(stats.gpus))
    return table


def _live(ctx: CliContext, conn: Connection, ref: str | None, interval: float) -> int:
    from rich.live import Live

    pause = threading.Event()  # never set: waits out the refresh interval, Ctrl-C ends it
    with Live(render(ctx, snapshot(conn, ref)), console=ctx.out, auto_refresh=False) as live:
        try:
            while not pause.wait(interval):
                live.update(render(ctx, snapshot(conn, ref)), refresh=True)
        except KeyboardInterrupt:
            return 0
    return 0


@usage_errors
def run(ctx: CliContext) -> int:
    args = ctx.args
    if not args.interval > 0:
        raise InvalidArgumentError(f"--interval: expected seconds > 0, got {args.interval}")
    with jobs_view.connection(ctx) as raw:
        conn = as_connection(raw)
        if not args.once and not ctx.json_output and _isatty(ctx.stdout):
            return _live(ctx, conn, args.job, args.interval)
        rows = snapshot(conn, args.job)
    if ctx.json_output:
        for job, view, stats in rows:
            ctx.stdout.write(json.dumps(row_json(job, view, stats)) + "\n")
        return 0
    if not rows:
        ctx.out.print("No running jobs.")
        return 0
    ctx.out.print(render(ctx, rows))
    return 0
