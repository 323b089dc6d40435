"""The end-to-end demo (``make demo`` / ``python -m examples.demo``).

Starts a local cluster (session manager + one executor manager) in ``.flame-local/``, runs the echo
and the Monte-Carlo π examples against it with progress bars, prints a summary, and stops the
cluster. Port: ``FLAME_DEMO_PORT`` or 8080, or any free port when that one is busy.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import flamepy
from examples.echo import client as echo
from examples.pi import client as pi
from flamepy.cluster import LocalCluster, port_is_free
from flamepy.errors import FlameError

DATA_DIR = Path(".flame-local")
ECHO_TASKS = 100
PI_TASKS = 100
PI_SAMPLES = 20_000

R = TypeVar("R")


def choose_port(console: Console) -> int:
    port = int(os.environ.get("FLAME_DEMO_PORT", "8080"))
    if port_is_free(port):
        return port
    console.print(f"[yellow]port {port} is busy; using a free port instead[/]")
    return 0


def with_progress(console: Console, label: str, total: int, job: Callable[[Callable[[], None]], R]) -> R:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task(label, total=total)
        return job(lambda: progress.advance(bar))


def run_demo(console: Console, data_dir: Path = DATA_DIR) -> int:
    port = choose_port(console)
    cluster = LocalCluster(data_dir, port=port)
    with console.status(f"Starting a local Flame cluster in {data_dir}/ …"):
        started = time.perf_counter()
        cluster.start()
    console.print(
        f"[green]✓[/] cluster up at [bold]{cluster.endpoint}[/] "
        f"(node {cluster.node_name}) in {time.perf_counter() - started:.1f}s"
    )
    try:
        os.environ["FLAME_ENDPOINT"] = cluster.endpoint
        flamepy.reset_default_connection()
        echo_report = with_progress(
            console, f"echo {ECHO_TASKS} futures", ECHO_TASKS, lambda tick: echo.run(ECHO_TASKS, tick)
        )
        pi_report = with_progress(
            console, f"π    {PI_TASKS} tasks  ", PI_TASKS, lambda tick: pi.run(PI_TASKS, PI_SAMPLES, tick)
        )
    finally:
        flamepy.reset_default_connection()
        with console.status("Stopping the local cluster …"):
            cluster.stop()
    console.print(summary(echo_report, pi_report))
    console.print(f"[green]✓[/] cluster stopped; logs in {data_dir / 'logs'}/")
    return 0 if echo_report.ok and pi_report.error < 0.05 else 1


def summary(echo_report: echo.EchoReport, pi_report: pi.PiReport) -> Table:
    table = Table(title="Flame demo", header_style="bold")
    table.add_column("example")
    table.add_column("session")
    table.add_column("result")
    table.add_column("time", justify="right")
    table.add_row(
        "echo",
        echo_report.session_id,
        f"invoke → {echo_report.first_output!r}; {echo_report.echoed}/{echo_report.tasks} futures ok; "
        f"common data {'ok' if echo_report.common_data_seen == echo.COMMON_DATA else 'WRONG'}",
        f"{echo_report.elapsed_s:.2f}s",
    )
    table.add_row(
        "π",
        pi_report.session_id,
        f"π ≈ {pi_report.estimate:.5f} (error {pi_report.error:.5f}) "
        f"from {pi_report.samples:,} samples in {pi_report.tasks} tasks",
        f"{pi_report.elapsed_s:.2f}s",
    )
    return table


def main() -> int:
    console = Console()
    try:
        return run_demo(console)
    except FlameError as exc:
        console.print(f"[red]error:[/] {exc.message}", highlight=False)
        return 1
    except KeyboardInterrupt:
        console.print("interrupted; the cluster was stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
