"""``flmctl top`` and ``flmctl exec`` against a real local cluster, through the session manager to
the node that runs the job (real processes, real psutil numbers)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

import flamepy
from flamepy import jobs
from flamepy.taskprobe import TaskStats
from tests.jobs_cli.conftest import Flmctl
from tests.support import wait_until

pytestmark = pytest.mark.e2e
BOUND_S = 30.0
# the job writes where it runs, then its pid; the pid file's newline says both are there
SLEEPER = 'pwd > "$PIDFILE.cwd"; echo $$ > "$PIDFILE"; exec sleep 300'


def _start(flmctl: Flmctl, tmp_path: Path, name: str, *extra: str) -> tuple[str, int, str]:
    pidfile = tmp_path / f"{name}.pid"
    done = flmctl(
        "run", "-d", "--name", name, "-e", f"PIDFILE={pidfile}", "-e", "MYVAR=hello-exec", *extra, SLEEPER,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.strip()
    text = wait_until(lambda: pidfile.read_text() if pidfile.exists() else "", BOUND_S)
    wait_until(lambda: text.endswith("\n") or None, 1)
    cwd = (tmp_path / f"{name}.pid.cwd").read_text().strip()
    return job_id, int(text), cwd


def _top(flmctl: Flmctl, *args: str) -> list[dict[str, Any]]:
    done = flmctl("top", *args, "--once", "-o", "json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def _stop(flmctl: Flmctl, job_id: str, pid: int) -> None:
    assert flmctl("cancel", job_id).returncode == 0

    def gone() -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_until(gone, BOUND_S)


def test_top_shows_the_pid_and_memory_and_exec_runs_in_the_job(flmctl: Flmctl, tmp_path: Path) -> None:
    job_id, pid, cwd = _start(flmctl, tmp_path, "top-one")
    try:
        [row] = _top(flmctl, job_id)
        assert (row["job"], row["name"], row["task"], row["node"]) == (job_id, "top-one", 0, "job-node")
        assert pid in row["pids"] and row["rss_bytes"] > 0 and row["running"] is True
        assert row["gpus"] == [] and row["error"] is None
        assert job_id in {r["job"] for r in _top(flmctl)}  # every running job without an id
        table = flmctl("top", job_id, "--once")
        assert table.returncode == 0 and job_id in table.stdout and str(pid) in table.stdout

        done = flmctl("exec", job_id, "--", "sh", "-c", "pwd; echo $MYVAR; echo to-err >&2; exit 7")
        assert done.returncode == 7, done.stderr
        assert done.stdout.splitlines() == [cwd, "hello-exec", "to-err"]
        assert done.stderr == ""
        missing = flmctl("exec", job_id, "--", "no-such-command-xyz")
        assert missing.returncode == 127 and "no-such-command-xyz" in missing.stdout
        slow = flmctl("exec", job_id, "--timeout", "1s", "--", "sleep", "30")
        assert slow.returncode == 124 and "timed out after 1s" in slow.stderr
    finally:
        _stop(flmctl, job_id, pid)
    ended = flmctl("exec", job_id, "--", "true")
    assert ended.returncode == 125
    assert ended.stdout == "" and re.fullmatch(r"error: .*is not running.*\n", ended.stderr), ended.stderr
    stopped = flmctl("top", job_id, "--once", "-o", "json")
    assert stopped.returncode == 1 and "is not running" in stopped.stderr


def test_top_names_the_gpus_of_a_job_on_a_fake_gpu_node(
    flmctl: Flmctl, conn: flamepy.Connection, tmp_path: Path
) -> None:
    job_id, pid, cwd = _start(flmctl, tmp_path, "top-gpu", "--gpus", "1")
    try:
        [row] = _top(flmctl, job_id)
        [gpu] = row["gpus"]
        assert gpu["index"] in (0, 1)
        assert (gpu["util_percent"], gpu["memory_used_bytes"]) == (None, None)  # nothing to measure
        done = flmctl("exec", job_id, "--", "sh", "-c", "echo $CUDA_VISIBLE_DEVICES")
        assert (done.returncode, done.stdout) == (0, f"{gpu['index']}\n")
        job = jobs.get(job_id, conn=conn)  # the SDK: Job.stats() / Job.exec()
        [(view, stats)] = job.stats()
        assert view.index == 0 and isinstance(stats, TaskStats) and pid in stats.pids
        assert job.exec(["sh", "-c", "pwd; exit 3"]) == (3, f"{cwd}\n".encode())
    finally:
        _stop(flmctl, job_id, pid)


def test_exec_usage_errors(flmctl: Flmctl) -> None:
    unknown = flmctl("exec", "job-nope0000", "--", "true")
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: ")
    empty = flmctl("exec", "job-nope0000")
    assert empty.returncode == 2 and "CMD" in empty.stderr


def test_top_on_a_terminal_redraws_until_interrupted(flmctl: Flmctl, tmp_path: Path) -> None:
    job_id, pid, _cwd = _start(flmctl, tmp_path, "top-live")
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))  # 200 columns
    proc = subprocess.Popen(
        [sys.executable, "-m", "flamepy.cli.main", "top", job_id, "--interval", "0.2"],
        stdin=subprocess.DEVNULL, stdout=secondary, stderr=subprocess.PIPE, env=flmctl.env(),
    )  # fmt: skip
    os.close(secondary)
    seen = b""
    try:
        # at least two drawings of the row: the first snapshot and a refresh
        deadline = time.monotonic() + BOUND_S
        while seen.count(job_id.encode()) < 2:
            ready, _, _ = select.select([primary], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, f"no redraw within {BOUND_S}s: {seen[-800:]!r}"
            seen += os.read(primary, 65536)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(BOUND_S) == 0
        assert str(pid).encode() in seen
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(primary)
        _stop(flmctl, job_id, pid)


def test_top_shows_each_task_of_an_array_and_exec_picks_one(flmctl: Flmctl, tmp_path: Path) -> None:
    script = 'echo $$ > "$PIDDIR/$SLURM_ARRAY_TASK_ID.pid"; exec sleep 300'
    done = flmctl(
        "run", "-d", "--array", "0-1", "--name", "top-arr", "-e", f"PIDDIR={tmp_path}", script, cwd=tmp_path
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.strip()
    pids = [int(wait_until(lambda i=i: _text(tmp_path / f"{i}.pid"), BOUND_S)) for i in (0, 1)]
    try:
        rows = _top(flmctl, job_id)
        assert sorted(r["task"] for r in rows) == [0, 1]
        for row in rows:
            assert pids[row["task"]] in row["pids"] and row["rss_bytes"] > 0
        one = flmctl("exec", job_id, "--task", "1", "--", "sh", "-c", "echo $SLURM_ARRAY_TASK_ID")
        assert (one.returncode, one.stdout) == (0, "1\n"), one.stderr
        none = flmctl("exec", job_id, "--task", "5", "--", "true")
        assert none.returncode == 2 and "has no task 5" in none.stderr
    finally:
        assert flmctl("cancel", job_id).returncode == 0


def _text(path: Path) -> str:
    text = path.read_text() if path.exists() else ""
    return text if text.endswith("\n") else ""
