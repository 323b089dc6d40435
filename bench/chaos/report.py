"""The chaos bench's table: rows from the counts, printed with rich, and as Markdown."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from bench.chaos.audit import Counts
from bench.chaos.schedule import EXECUTOR_MANAGER, SERVICE, SESSION_MANAGER, ChaosLog

Row = tuple[str, str]


@dataclass(frozen=True)
class RunInfo:
    seed: int
    tasks: int
    sessions: int
    nodes: int
    window_s: float
    deadline_s: float
    workload_s: float
    total_s: float
    storage_read: bool = True
    hit_deadline: bool = False


def _kills(counter: Counter[str]) -> str:
    return " / ".join(str(counter[k]) for k in (SESSION_MANAGER, EXECUTOR_MANAGER, SERVICE))


def rows(info: RunInfo, c: Counts, chaos: ChaosLog) -> list[Row]:
    storage = "" if info.storage_read else " (storage unreadable)"
    out: list[Row] = [
        ("seed", str(info.seed)),
        ("kill -9: session manager / executor manager / service", _kills(chaos.done)),
        ("kills skipped (nothing to kill, or past the deadline)", _kills(chaos.skipped)),
        ("kills or restarts that failed", str(len(chaos.failed))),
        ("submitted (Session.run calls)", f"{c.submitted:,}"),
        ("completed (future resolved with its output)", f"{c.completed:,}"),
        ("failed on the client (errors by kind below)", f"{c.failed:,}"),
        ("  of which never stored (refused at submission)", f"{c.rejected:,}"),
        (
            f"lost: unresolved / lost-task error / acknowledged, not in storage{storage}",
            f"{c.lost:,} ({c.unresolved} / {c.lost_error} / {c.missing})",
        ),
        (
            "duplicated outcomes: wrong output / stored twice / wrong stored output",
            f"{c.duplicated:,} ({c.wrong_output} / {c.stored_twice} / {c.stored_wrong})",
        ),
        ("completed on the client, yet not Succeed in storage", f"{c.not_succeed:,}"),
        ("executions (service's own log) / distinct tasks run", f"{c.executions:,} / {c.tasks_ran:,}"),
        ("re-runs (executions beyond a task's first)", f"{c.reruns:,}"),
        ("re-runs with a task event recording them", f"{c.reruns_with_event:,}"),
        ("tasks that ran although their future failed", f"{c.ran_after_error:,}"),
        ("tasks in storage by state", _states(c.stored)),
    ]
    out += [(f"client error: {kind}", f"{n:,}") for kind, n in _by_count(c.errors)]
    out += [(f"re-run event: {why}", f"{n:,}") for why, n in _by_count(c.rerun_reasons)]
    reached = " (deadline reached)" if info.hit_deadline else ""
    out += [
        ("workload duration (first submit to last outcome)", f"{info.workload_s:.1f} s{reached}"),
        ("whole run (cluster start to report)", f"{info.total_s:.1f} s"),
    ]
    return out


def _by_count(counter: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))


def _states(stored: Counter[str]) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in sorted(stored.items())) or "none read"


def title(info: RunInfo) -> str:
    return (
        f"Chaos: {info.tasks:,} tasks, {info.sessions} sessions, {info.nodes} nodes, "
        f"{info.window_s:.0f} s submission window, deadline {info.deadline_s:.0f} s"
    )


def markdown(table_rows: Sequence[Row]) -> str:
    lines = ["| measure | value |", "|---|---:|"]
    lines += [f"| {name.strip()} | {value} |" for name, value in table_rows]
    return "\n".join(lines)


def print_report(console: Console, heading: str, table_rows: Sequence[Row], as_markdown: bool) -> None:
    table = Table(title=heading)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in table_rows:
        table.add_row(name, value)
    console.print(table)
    if as_markdown:
        print(f"\n{heading}\n\n{markdown(table_rows)}")
