"""Smoke tests of the chaos bench (bench/chaos.py): the counting and the table on fake outcomes
(fast), and one tiny real run with a single kill of a service process (e2e).

Nothing here asserts zero lost or duplicated outcomes: that is what the bench measures, and the
assertion belongs with the reliability guarantees it measures, not with the bench's smoke test.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from concurrent.futures import Future
from pathlib import Path

import pytest
from rich.console import Console

import flamepy
from bench.chaos import report
from bench.chaos.audit import Counts, audit, read_executions, recorded_reruns, rerun_events
from bench.chaos.schedule import EXECUTOR_MANAGER, SERVICE, SESSION_MANAGER, ChaosLog, make_schedule
from bench.chaos.workload import error_kind

ROOT = Path(__file__).resolve().parent.parent.parent


def _future(result: bytes | None = None, error: BaseException | None = None) -> Future:
    fut: Future = Future()
    if error is not None:
        fut.set_exception(error)
    elif result is not None:
        fut.set_result(result)
    return fut


def _task(
    tid: str, key: str, state: flamepy.TaskState, events: tuple[flamepy.Event, ...] = ()
) -> flamepy.Task:
    out = key.encode() if state == flamepy.TaskState.SUCCEED else None
    return flamepy.Task(tid, "s", state, input=key.encode(), output=out, events=events)


def test_audit_counts_lost_duplicated_and_reruns_on_fake_outcomes(tmp_path: Path) -> None:
    rerun_event = flamepy.Event(int(flamepy.TaskState.PENDING), "requeued: node chaos-b disconnected")
    futures = {
        "ok": _future(b"ok"),
        "wrong": _future(b"not-wrong"),
        "pending": _future(),  # never resolved: lost
        "refused": _future(error=flamepy.UnavailableError("create 1 tasks in session 'x': down")),
        "gone": _future(error=flamepy.NotFoundError("task 7 of session 'x' not found")),
        "missing": _future(b"missing"),  # resolved, but storage has no such task
        "twice": _future(b"twice"),
    }
    stored = [
        _task("1", "ok", flamepy.TaskState.SUCCEED, (flamepy.Event(0), flamepy.Event(1), rerun_event)),
        _task("2", "wrong", flamepy.TaskState.SUCCEED),
        _task("3", "pending", flamepy.TaskState.PENDING),
        _task("4", "gone", flamepy.TaskState.SUCCEED),
        _task("5", "twice", flamepy.TaskState.SUCCEED),
        _task("6", "twice", flamepy.TaskState.SUCCEED),
    ]
    log = tmp_path / "executions.log"
    log.write_text("s 1 ok 10\ns 1 ok 11\ns 1 ok 12\ns 2 wrong 10\ns 4 gone 11\ns 5 twice 10\ns 6 twice 12\n")
    runs = read_executions(log)
    c = audit(futures, Counter({"INVALID_STATE: closed": 1}), runs, stored)
    assert (c.submitted, c.completed, c.failed, c.rejected) == (8, 4, 2, 1)
    assert (c.unresolved, c.lost_error, c.missing, c.lost) == (1, 1, 1, 3)
    assert (c.wrong_output, c.stored_twice, c.stored_wrong, c.duplicated) == (1, 1, 0, 2)
    assert (c.executions, c.tasks_ran, c.reruns, c.reruns_with_event) == (7, 4, 3, 1)
    assert c.ran_after_error == 1  # "gone" failed on the client yet ran
    assert c.not_succeed == 0
    behind = audit({"ok": _future(b"ok")}, Counter(), runs, [_task("1", "ok", flamepy.TaskState.RUNNING)])
    assert (behind.completed, behind.not_succeed, behind.missing) == (1, 1, 0)
    assert c.stored == Counter({"SUCCEED": 5, "PENDING": 1})
    assert rerun_events(stored[0]) == [rerun_event]
    assert c.rerun_reasons == Counter({"requeued: node … disconnected": 1})
    assert "UNAVAILABLE: create N tasks in session '…': down" in c.errors


def test_attempt_numbers_in_events_count_as_recorded_reruns_from_the_second_on() -> None:
    def ev(code: flamepy.TaskState, message: str) -> flamepy.Event:
        return flamepy.Event(int(code), message)

    first = ev(flamepy.TaskState.RUNNING, "running on executor chaos-a-1 (node chaos-a), attempt 1")
    again = ev(flamepy.TaskState.PENDING, "requeued after session manager restart (attempt 2)")
    second = ev(flamepy.TaskState.RUNNING, "running on executor chaos-b-7 (node chaos-b), attempt 2")
    recorded = _task(
        "1", "a", flamepy.TaskState.SUCCEED, (ev(flamepy.TaskState.PENDING, ""), first, again, second)
    )
    silent = _task("2", "b", flamepy.TaskState.SUCCEED, (ev(flamepy.TaskState.PENDING, ""), first))
    assert (recorded_reruns(recorded), recorded_reruns(silent)) == (1, 0)
    assert rerun_events(recorded) == [again, second] and rerun_events(silent) == []
    c = audit(
        {"a": _future(b"a"), "b": _future(b"b")}, Counter(), Counter({"a": 3, "b": 2}), [recorded, silent]
    )
    assert (c.reruns, c.reruns_with_event) == (3, 1)
    assert c.rerun_reasons["running on executor … (node …), attempt N"] == 1


def test_table_rows_and_markdown_on_fake_counts(capsys: pytest.CaptureFixture[str]) -> None:
    counts = Counts(submitted=20_000, completed=19_000, failed=1_000, reruns=12, executions=19_012)
    counts.errors["UNAVAILABLE: failed to connect"] = 1_000
    chaos = ChaosLog(done=Counter({SESSION_MANAGER: 4, EXECUTOR_MANAGER: 3, SERVICE: 5}))
    info = report.RunInfo(7, 20_000, 4, 3, 60.0, 300.0, 61.5, 70.2)
    rows = dict(report.rows(info, counts, chaos))
    assert rows["seed"] == "7"
    assert rows["kill -9: session manager / executor manager / service"] == "4 / 3 / 5"
    assert rows["submitted (Session.run calls)"] == "20,000"
    assert rows["client error: UNAVAILABLE: failed to connect"] == "1,000"
    md = report.markdown(report.rows(info, counts, chaos))
    assert md.startswith("| measure | value |\n|---|---:|\n| seed | 7 |")
    report.print_report(Console(width=120), report.title(info), list(rows.items()), as_markdown=True)
    out = capsys.readouterr().out
    assert "re-runs with a task event recording them" in out and "| duplicated outcomes" in out


def test_schedule_is_seeded_sorted_and_inside_the_window() -> None:
    kinds = [SESSION_MANAGER, EXECUTOR_MANAGER, SERVICE]
    first = make_schedule(42, 12, kinds, 60.0)
    assert first == make_schedule(42, 12, kinds, 60.0) != make_schedule(43, 12, kinds, 60.0)
    assert [k.at for k in first] == sorted(k.at for k in first)
    assert all(3.0 <= k.at <= 57.0 and k.kind in kinds for k in first)


def test_error_kind_folds_numbers_and_names() -> None:
    a = error_kind(flamepy.UnavailableError("create 12 tasks in session 'a-1': connection reset"))
    b = error_kind(flamepy.UnavailableError("create 3 tasks in session 'b-22': connection reset"))
    assert a == b == "UNAVAILABLE: create N tasks in session '…': connection reset"
    assert error_kind(RuntimeError("")) == "RuntimeError"


def _markdown_rows(out: str) -> dict[str, str]:
    cells = (line.strip().strip("|").split(" | ") for line in out.splitlines() if line.startswith("| "))
    return {c[0].strip(): c[-1].strip() for c in cells if len(c) >= 2}


@pytest.mark.e2e
@pytest.mark.timeout(90)
def test_quick_run_with_one_service_kill_prints_the_table() -> None:
    argv = [sys.executable, "bench/chaos.py", "--quick", "--tasks", "100", "--deadline", "60"]
    argv += ["--kills", "1", "--kinds", "svc", "--window", "3", "--markdown"]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=80, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = _markdown_rows(proc.stdout)
    assert rows["submitted (Session.run calls)"] == "100", proc.stdout
    killed = rows["kill -9: session manager / executor manager / service"]
    skipped = rows["kills skipped (nothing to kill, or past the deadline)"]
    assert "0 / 0 / 1" in (killed, skipped), proc.stdout  # skipped only if no service was up yet
    for name in ("lost:", "duplicated outcomes:", "re-runs (executions", "re-runs with a task event"):
        assert any(row.startswith(name) for row in rows), proc.stdout
