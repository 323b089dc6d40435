"""``flamepy.jobs`` against a real local cluster: run, wait, status, exit_code, logs, cancel, list, get."""

from __future__ import annotations

from pathlib import Path

import pytest

import flamepy
from flamepy import jobs
from flamepy.errors import InvalidArgumentError, NotFoundError, TaskTimeoutError
from flamepy.jobs import JobState
from tests.jobs_cli.test_manage_cli import _gone, _pid
from tests.support import wait_until

pytestmark = pytest.mark.e2e
BOUND_S = 30.0


def test_run_wait_status_logs(conn: flamepy.Connection, tmp_path: Path) -> None:
    job = jobs.run(
        "echo hello $WHO from $PWD; echo warn >&2; exit 7",
        env={"WHO": "api"},
        name="api-run",
        labels={"suite": "api"},
        workdir=tmp_path,
        conn=conn,
    )
    assert job.id.startswith("job-") and job.name == "api-run"
    assert job.wait(timeout=BOUND_S) == 7
    assert (job.status, job.exit_code) == (JobState.FAILED, 7)
    lines = list(job.logs())  # stdout and stderr are read apart: their order is not fixed
    assert sorted(lines) == sorted([f"hello api from {tmp_path}", "warn"])
    assert list(job.logs(tail=1)) == lines[-1:]
    status = job.describe()
    assert status.reason == "Failed" and not status.session_open  # a finished job releases its session
    assert status.submitted_ms <= (status.started_ms or 0) <= (status.finished_ms or 0)

    ok = jobs.run(["bash", "-c", "echo $0 $1", "argv", "form"], conn=conn, wait=True)
    assert (ok.status, ok.exit_code, list(ok.logs())) == (JobState.SUCCEEDED, 0, ["argv form"])


def test_timeout_retries_and_resources(conn: flamepy.Connection, tmp_path: Path) -> None:
    slow = jobs.run("sleep 30", timeout="1s", conn=conn, wait=True)
    assert (slow.status, slow.exit_code) == (JobState.TIMEOUT, 124)

    counter = tmp_path / "attempts"
    flaky = jobs.run(
        f"echo x >> {counter}; [ $(wc -l < {counter}) -ge 2 ]", retries=2, cpus=1, memory="64m", conn=conn
    )
    assert flaky.wait(BOUND_S) == 0 and counter.read_text() == "x\nx\n"  # failed once, re-run once
    session = conn.get_session(flaky.id)
    assert session.attributes.resreq == flamepy.ResourceRequirement(cpu=1, memory=64 << 20, gpu=0)

    gpu = jobs.run("echo $CUDA_VISIBLE_DEVICES", gpus=1, conn=conn, wait=True)
    assert list(gpu.logs()) in (["0"], ["1"])


def test_wait_deadline_cancel_list_get(conn: flamepy.Connection, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    job = jobs.run(f"echo $$ > {pidfile}; exec sleep 300", name="api-sleeper", labels={"k": "v"}, conn=conn)
    pid = wait_until(lambda: _pid(pidfile), BOUND_S)
    with pytest.raises(TaskTimeoutError, match=rf"job {job.id} \(api-sleeper\) did not finish within 0.2 s"):
        job.wait(timeout=0.2)
    assert job.status == JobState.RUNNING

    assert jobs.get(job.id, conn=conn).id == job.id
    assert jobs.get(job.id[:9], conn=conn).id == job.id
    assert jobs.get("api-sleeper", conn=conn).id == job.id
    running = jobs.list(state="running", labels={"k": "v"}, conn=conn)
    assert [j.id for j in running] == [job.id]
    assert job.id in {j.id for j in jobs.list(name="api-*", conn=conn)}

    assert job.cancel() is True
    wait_until(lambda: _gone(pid), BOUND_S)
    assert job.status == JobState.CANCELLED and job.cancel() is False  # idempotent
    assert jobs.list(state="running", labels={"k": "v"}, conn=conn) == []


def test_lookup_errors(conn: flamepy.Connection) -> None:
    with pytest.raises(NotFoundError, match="no job with id, id prefix or name 'nope'"):
        jobs.get("nope", conn=conn)
    with pytest.raises(InvalidArgumentError, match="job state: expected one of"):
        jobs.list(state="Sleeping", conn=conn)
    with pytest.raises(jobs.JobSpecError, match="timeout"):
        jobs.run("true", timeout="soon", conn=conn)
