"""Detached jobs through the real flmctl: ps, status, logs, cancel (by id, by glob), completion."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.jobs_cli.conftest import Flmctl
from tests.support import wait_until

pytestmark = pytest.mark.e2e
BOUND_S = 30.0
SLEEPER = 'echo $$ > "$PIDFILE"; echo started; exec sleep 300'


def _ps(flmctl: Flmctl, *args: str) -> list[dict[str, Any]]:
    done = flmctl("ps", *args, "-o", "json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def _status(flmctl: Flmctl, job: str) -> dict[str, Any]:
    done = flmctl("status", job, "-o", "json")
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def _detached(flmctl: Flmctl, tmp_path: Path, name: str, *extra: str) -> tuple[str, Path]:
    pidfile = tmp_path / f"{name}.pid"
    done = flmctl("run", "-d", "--name", name, "-e", f"PIDFILE={pidfile}", *extra, SLEEPER, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.strip()
    assert re.fullmatch(r"job-[0-9a-f]{8}", job_id), done.stdout
    assert f"flmctl cancel {job_id}" in done.stderr
    return job_id, pidfile


def _pid(pidfile: Path) -> int | None:
    text = pidfile.read_text() if pidfile.exists() else ""
    return int(text) if text.endswith("\n") else None


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_detached_job_status_ps_logs_and_cancel_by_id(flmctl: Flmctl, tmp_path: Path) -> None:
    job_id, pidfile = _detached(flmctl, tmp_path, "det-one", "--label", "team=vision")
    pid = wait_until(lambda: _pid(pidfile), BOUND_S)
    assert _status(flmctl, job_id)["state"] == "Running"

    listed = {j["id"]: j for j in _ps(flmctl)}
    assert listed[job_id]["name"] == "det-one" and listed[job_id]["state"] == "Running"
    assert listed[job_id]["labels"] == {"team": "vision"} and listed[job_id]["node"] == "job-node"
    assert job_id in {j["id"] for j in _ps(flmctl, "--name", "det-*", "--label", "team=vision")}
    assert job_id not in {j["id"] for j in _ps(flmctl, "--label", "team=nlp")}
    assert job_id not in {j["id"] for j in _ps(flmctl, "--state", "Succeeded")}
    assert job_id in {j["id"] for j in _ps(flmctl, "--since", "10m", "--limit", "50")}
    table = flmctl("ps")
    assert table.returncode == 0 and job_id in table.stdout and "det-one" in table.stdout
    assert "\x1b[" not in table.stdout  # a pipe gets no colour codes
    refused = flmctl("cancel", "--all")  # not a terminal: --all needs --yes
    assert refused.returncode == 2 and "add --yes" in refused.stderr

    by_prefix = flmctl("status", job_id[:8])  # "job-" and 4 hex digits
    assert by_prefix.returncode == 0, by_prefix.stderr
    assert job_id in by_prefix.stdout and "Running" in by_prefix.stdout

    cancelled = flmctl("cancel", job_id)
    assert (cancelled.returncode, cancelled.stdout) == (0, f"cancelled {job_id} (det-one)\n")
    wait_until(lambda: _gone(pid), BOUND_S)
    doc = _status(flmctl, job_id)
    assert doc["state"] == "Cancelled" and [t["state"] for t in doc["tasks"]] == ["Cancelled"]
    assert job_id not in {j["id"] for j in _ps(flmctl)}
    assert job_id in {j["id"] for j in _ps(flmctl, "-a")}

    again = flmctl("cancel", job_id)
    assert again.returncode == 0
    assert again.stdout == f"{job_id} (det-one) had already finished: Cancelled\n"


def test_cancel_by_name_glob_stops_every_match(flmctl: Flmctl, tmp_path: Path) -> None:
    first, first_pid = _detached(flmctl, tmp_path, "sweep-a")
    second, second_pid = _detached(flmctl, tmp_path, "sweep-b")
    other, other_pid = _detached(flmctl, tmp_path, "keep-me")
    pids = [wait_until(lambda p=p: _pid(p), BOUND_S) for p in (first_pid, second_pid, other_pid)]

    done = flmctl("cancel", "-n", "sweep-*")
    assert done.returncode == 0, done.stderr
    expected = [f"cancelled {first} (sweep-a)", f"cancelled {second} (sweep-b)"]
    assert sorted(done.stdout.splitlines()) == sorted(expected)
    wait_until(lambda: _gone(pids[0]) and _gone(pids[1]), BOUND_S)
    assert not _gone(pids[2])
    assert {_status(flmctl, j)["state"] for j in (first, second)} == {"Cancelled"}
    assert _status(flmctl, other)["state"] == "Running"

    by_name = flmctl("cancel", "keep-me")
    assert by_name.stdout == f"cancelled {other} (keep-me)\n"
    wait_until(lambda: _gone(pids[2]), BOUND_S)
    nothing = flmctl("cancel", "-n", "sweep-*")
    assert nothing.returncode == 0 and "nothing to cancel" in nothing.stderr


def test_logs_of_a_finished_job(flmctl: Flmctl, tmp_path: Path) -> None:
    done = flmctl(
        "run", "-d", "--name", "chatty", "for i in 1 2 3; do echo line $i; done; echo oops >&2", cwd=tmp_path
    )
    job_id = done.stdout.strip()
    ended = flmctl("logs", "-f", job_id)  # -f waits for the end, then stops
    assert ended.returncode == 0, ended.stderr
    assert ended.stdout == "line 1\nline 2\nline 3\n" and ended.stderr == "oops\n"
    assert _status(flmctl, "chatty")["exit_code"] == 0
    tail = flmctl("logs", "--tail", "2", "chatty")  # the last 2 lines, whichever stream each is on
    shown = tail.stdout.splitlines()
    assert (
        len(shown) + len(tail.stderr.splitlines()) == 2
        and shown == ["line 1", "line 2", "line 3"][3 - len(shown) :]
    )
    stamped = flmctl("logs", "--timestamps", job_id[:9])
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\S* line 1\n", stamped.stdout), stamped.stdout
    assert flmctl("logs", "--since", "1h", job_id).stdout.count("line") == 3
    missing = flmctl("logs", "--task", "5", job_id)
    assert missing.returncode == 2 and "has no task 5" in missing.stderr


def test_status_of_an_array_lists_each_task(flmctl: Flmctl, tmp_path: Path) -> None:
    done = flmctl("run", "--array", "0-2", "--name", "arr-status", "exit $SLURM_ARRAY_TASK_ID", cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # the first failing task's exit code
    doc = _status(flmctl, "arr-status")
    assert doc["state"] == "Failed" and doc["exit_code"] == 1
    tasks = [(t["index"], t["array_index"], t["state"], t["exit_code"]) for t in doc["tasks"]]
    assert tasks == [(0, 0, "Succeeded", 0), (1, 1, "Failed", 1), (2, 2, "Failed", 2)]
    shown = flmctl("status", "arr-status")
    assert shown.returncode == 0 and shown.stdout.count("Failed") >= 3


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_name_the_job_commands(flmctl: Flmctl, shell: str) -> None:
    done = flmctl("completion", shell)
    assert done.returncode == 0, done.stderr
    for word in ("run", "ps", "status", "logs", "cancel", "detach"):
        assert word in done.stdout


def test_bash_completion_completes_commands_and_options(flmctl: Flmctl, tmp_path: Path) -> None:
    script = tmp_path / "flmctl.bash"
    script.write_text(flmctl("completion", "bash").stdout)
    probe = (
        f"source {script}; COMP_WORDS=(flmctl run --de); COMP_CWORD=2; _flmctl; echo ${{COMPREPLY[@]}}; "
        "COMP_WORDS=(flmctl sta); COMP_CWORD=1; _flmctl; echo ${COMPREPLY[@]}"
    )
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=False, timeout=30)
    assert done.stdout.splitlines() == ["--detach", "status"], done.stderr
