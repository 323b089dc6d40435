"""A job task through a real local cluster: the built-in flmexec application runs a TaskLaunch."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import pytest

import flamepy
from flamepy.apps.joblog import read_records
from flamepy.apps.jobresult import JobResult, parse_failure
from flamepy.cluster import LocalCluster
from flamepy.jobs import JobSpec, expand
from tests.support import wait_until

pytestmark = pytest.mark.e2e
BOUND_S = 30.0


def test_job_task_runs_in_flmexec_and_fails_with_its_exit_code(
    conn: flamepy.Connection, tmp_path: Path
) -> None:
    spec = JobSpec(
        command="echo hello from rank $FLAME_NODE_RANK in $PWD; echo warn >&2; echo done > marker",
        name="e2e",
        workdir=str(tmp_path),
        upload=False,
        stdout="out-%j.txt",
    )
    ssn = conn.create_session(flamepy.SessionAttributes(application="flmexec"))
    try:
        [launch] = expand(spec, job_id=ssn.id)
        raw = ssn.invoke(launch.to_task_input())
        assert raw is not None
        result = JobResult.from_json(raw)
        assert (result.exit_code, result.reason) == (0, "Completed")
        assert f"hello from rank 0 in {tmp_path}\n" in result.tail and "warn\n" in result.tail
        assert (tmp_path / "marker").read_text() == "done\n"
        plain = (tmp_path / f"out-{ssn.id}.txt").read_text().splitlines()  # -o alone: both streams
        assert sorted(plain) == [f"hello from rank 0 in {tmp_path}", "warn"]
        streams = [(r["s"], r["l"]) for r in read_records(Path(result.log)) if r["s"] != "sys"]
        assert sorted(streams) == [("err", "warn"), ("out", f"hello from rank 0 in {tmp_path}")]

        [failing] = expand(
            JobSpec(command="echo broken >&2; exit 3", workdir=str(tmp_path), upload=False), ssn.id
        )
        with pytest.raises(flamepy.FlameError, match=r"exit code 3 \(Failed\)") as info:
            ssn.invoke(failing.to_task_input())
        assert parse_failure(info.value.message) == (3, "Failed")
        assert "broken" in info.value.message
    finally:
        ssn.close()
    status = conn.get_session(ssn.id).status
    assert (status.succeed, status.failed) == (1, 1)


def _pids(path: Path) -> list[int]:
    text = path.read_text() if path.exists() else ""
    return [int(p) for p in text.split()] if text.endswith("\n") else []


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_sigterm_to_the_service_process_cancels_the_running_job(
    conn: flamepy.Connection, cluster: LocalCluster, tmp_path: Path
) -> None:
    """The real flmexec service forwards SIGTERM to the job's process group before it exits."""
    marker = tmp_path / "pids"
    spec = JobSpec(
        command=f'sleep 300 & echo "$$ $! $PPID" > {marker}; wait',
        workdir=str(tmp_path),
        upload=False,
    )
    ssn = conn.create_session(flamepy.SessionAttributes(application="flmexec"))
    try:
        [launch] = expand(spec, job_id=ssn.id)
        ssn.run(launch.to_task_input())  # its outcome depends on the executor's recovery; not checked
        shell, sleeper, service = wait_until(lambda: _pids(marker), BOUND_S)
        marker.unlink()
        os.kill(service, signal.SIGTERM)
        wait_until(lambda: _gone(shell) and _gone(sleeper) and _gone(service), BOUND_S)
        [log] = wait_until(
            lambda: list(cluster.data_dir.rglob(f".flame-logs/{ssn.id}/{launch.index}.log")), BOUND_S
        )
        first = [r for r in read_records(log) if r["s"] == "sys"][:4]
        assert [r["e"] for r in first] == ["start", "exec", "cancel", "exit"]
        assert (first[-1]["code"], first[-1]["reason"]) == (143, "Cancelled")
    finally:
        ssn.close()
        rerun = _pids(marker)[:2]  # a re-run the executor may have started: the close stops it
        wait_until(lambda: all(_gone(pid) for pid in rerun), BOUND_S)
