"""``bench/chaos.py``: the command line and the run, start to report (see ``bench/chaos.py``)."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

import flamepy
from bench.chaos import report
from bench.chaos.audit import audit, read_executions
from bench.chaos.cluster import ChaosCluster
from bench.chaos.schedule import KINDS, Chaos, make_schedule
from bench.chaos.workload import APP, Workload, close_sessions, open_sessions, submit_all, wait_futures
from flamepy.cluster.local import wait_until

ROOT = Path(__file__).resolve().parent.parent.parent
SERVICE = Path(__file__).resolve().parent / "service.py"
DEFAULT_SEED = 20261130
FULL = {"tasks": 20_000, "kills": 12, "deadline": 300.0, "window": 30.0}
QUICK = {"tasks": 500, "kills": 3, "deadline": 60.0, "window": 10.0}
STORAGE_READ_S = 20.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="bench/chaos.py", description=sys.modules["__main__"].__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"default {DEFAULT_SEED}")
    ap.add_argument("--tasks", type=int, help=f"default {FULL['tasks']:,} ({QUICK['tasks']} with --quick)")
    ap.add_argument("--kills", type=int, help=f"default {FULL['kills']} ({QUICK['kills']} with --quick)")
    ap.add_argument("--kinds", default="sm,em,svc", help="what may be killed: sm, em, svc (default all)")
    ap.add_argument("--deadline", type=float, help="seconds for the whole run (default 300; quick 60)")
    ap.add_argument("--window", type=float, help="seconds over which tasks and kills are spread (default 30)")
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument("--nodes", type=int, default=3, help="executor managers, 2 or more (default 3)")
    ap.add_argument("--work-ms", type=float, default=2.0, help="simulated work per task (default 2)")
    ap.add_argument("--quick", action="store_true", help="a small run: 500 tasks, 3 kills, 60 s")
    ap.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    ap.add_argument("--verbose", action="store_true", help="log the SDK's and the bench's warnings")
    opts = ap.parse_args(argv)
    for key, value in (QUICK if opts.quick else FULL).items():
        if getattr(opts, key) is None:
            setattr(opts, key, value)
    picked = [k for k in opts.kinds.split(",") if k]
    if not picked or not set(picked) <= set(KINDS):
        ap.error(f"--kinds: a comma-separated list of {', '.join(KINDS)}")
    opts.kinds = [KINDS[k] for k in picked]
    if opts.nodes < 2 or opts.tasks < 1 or opts.sessions < 1 or opts.deadline <= 0:
        ap.error("need --nodes >= 2, --tasks >= 1, --sessions >= 1 and a positive --deadline")
    return opts


def code_under_test() -> str:
    """Where the servers' code comes from: what ``import session_manager`` finds in a subprocess
    started like them (same interpreter, environment and working directory)."""
    probe = [sys.executable, "-c", "import session_manager; print(session_manager.__file__)"]
    done = subprocess.run(probe, capture_output=True, text=True, timeout=60, check=False)
    path = done.stdout.strip()
    return str(Path(path).parent.parent) if path else f"unknown ({done.stderr.strip()[-200:]})"


def read_storage(conn: flamepy.Connection, work: Workload) -> list[flamepy.Task] | None:
    """Every task of the bench's sessions, read back through the SDK; None: not readable in time."""
    found: list[flamepy.Task] = []

    def read() -> bool:
        found.clear()
        try:
            for ssn in work.sessions:
                found.extend(ssn.list_tasks())
        except flamepy.FlameError:
            return False
        return True

    try:
        wait_until(read, STORAGE_READ_S, 0.5, "the session manager to list the tasks")
    except TimeoutError:
        return None
    return found


def run(opts: argparse.Namespace, console: Console) -> int:
    t0 = time.monotonic()
    deadline = t0 + opts.deadline
    collect_by = deadline - min(30.0, 0.2 * opts.deadline)
    schedule = make_schedule(opts.seed, opts.kills, opts.kinds, opts.window)
    with tempfile.TemporaryDirectory(prefix="flame-chaos-") as tmp, ChaosCluster(Path(tmp), opts.nodes) as cl:
        executions = Path(tmp) / "executions.log"
        with flamepy.Connection(cl.endpoint) as conn:
            args = [str(SERVICE), str(executions), str(opts.work_ms)]
            attrs = flamepy.ApplicationAttributes(command=sys.executable, arguments=args,
                                                  working_directory=str(ROOT))  # fmt: skip
            conn.register_application(APP, attrs)
            work = open_sessions(conn, opts.sessions)
            start, stop = time.monotonic(), threading.Event()
            chaos = Chaos(cl, schedule, opts.seed, start, collect_by)
            chaos.start()
            with console.status(f"{opts.tasks:,} tasks, {len(schedule)} kills scheduled ..."):
                end = wait_futures(work, submit_all(work, opts.tasks, opts.window, stop), collect_by)
            stop.set()
            chaos.stop()
            stored = read_storage(conn, work)
            counts = audit(dict(work.futures), work.run_errors, read_executions(executions), stored)
            for err in close_sessions(work):
                console.print(f"[yellow]{err}[/yellow]")
    info = report.RunInfo(
        seed=opts.seed, tasks=opts.tasks, sessions=opts.sessions, nodes=opts.nodes,
        window_s=opts.window, deadline_s=opts.deadline, workload_s=end - start,
        total_s=time.monotonic() - t0, storage_read=stored is not None,
        hit_deadline=counts.unresolved > 0,
    )  # fmt: skip
    for line in chaos.log.lines + chaos.log.failed:
        console.print(line, highlight=False)
    report.print_report(console, report.title(info), report.rows(info, counts, chaos.log), opts.markdown)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if opts.verbose else logging.ERROR)
    console = Console()
    console.print(f"code under test: {code_under_test()}", highlight=False)
    return run(opts, console)
