"""A job task through a real local cluster: the built-in flmexec application runs a TaskLaunch."""

from __future__ import annotations

from pathlib import Path

import pytest

import flamepy
from flamepy.apps.joblog import read_records
from flamepy.apps.jobresult import JobResult, parse_failure
from flamepy.jobs import JobSpec, expand

pytestmark = pytest.mark.e2e


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
