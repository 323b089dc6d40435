"""An attached ``flmctl run``: Ctrl-C detaches without cancelling; live output (with the log service)."""

from __future__ import annotations

import re
import select
import signal
from pathlib import Path

import pytest

import flamepy
from tests.jobs_cli.conftest import Flmctl
from tests.jobs_cli.test_manage_cli import _gone, _pid, _status
from tests.support import wait_until

pytestmark = pytest.mark.e2e
BOUND_S = 30.0


def test_ctrl_c_detaches_and_the_job_keeps_running(flmctl: Flmctl, tmp_path: Path) -> None:
    pidfile = tmp_path / "job.pid"
    proc = flmctl.popen("run", "--name", "attached", f"echo $$ > {pidfile}; exec sleep 300", cwd=tmp_path)
    try:
        pid = wait_until(lambda: _pid(pidfile), BOUND_S)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=BOUND_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    found = re.search(r"detached from job (job-[0-9a-f]{8}); it keeps running", err)
    assert found, err
    job_id = found.group(1)
    assert f"flmctl logs -f {job_id}" in err and f"flmctl cancel {job_id}" in err
    assert _status(flmctl, job_id)["state"] == "Running" and not _gone(pid)
    assert flmctl("cancel", job_id).returncode == 0
    wait_until(lambda: _gone(pid), BOUND_S)


def _line(stream: object, bound: float) -> str:
    ready, _, _ = select.select([stream], [], [], bound)
    assert ready, f"no output within {bound} s"
    return str(stream.readline())  # type: ignore[attr-defined]


def test_attached_run_streams_output_while_the_job_runs(flmctl: Flmctl, tmp_path: Path) -> None:
    pytest.importorskip("flamepy.joblogs", reason="live logs need the session manager's log service")
    if not hasattr(flamepy.Connection, "read_task_log"):
        pytest.skip("live logs need Connection.read_task_log (the session manager's log service)")
    gate = tmp_path / "gate"
    script = f"echo first; while [ ! -e {gate} ]; do sleep 0.05; done; echo second"
    proc = flmctl.popen("run", script, cwd=tmp_path)
    try:
        assert _line(proc.stdout, BOUND_S) == "first\n"  # printed before the job can end
        gate.touch()
        out, err = proc.communicate(timeout=BOUND_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (proc.returncode, out) == (0, "second\n"), err
