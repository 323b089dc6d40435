"""``flmctl run`` uploads the working directory: the task reads the copy, .flameignore leaves files
out, ``--no-upload`` runs in the directory itself."""

from __future__ import annotations

from pathlib import Path

import pytest

import flamepy
from flamepy.jobs.launch import TaskLaunch
from tests.jobs_cli.conftest import Flmctl

pytestmark = pytest.mark.e2e

READ = "import os; print(open('data.txt').read().strip(), os.path.exists('secret.txt'), os.getcwd())"


def _project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "data.txt").write_text("uploaded-data\n")
    (root / "secret.txt").write_text("do not ship\n")
    (root / "sub").mkdir(exist_ok=True)
    (root / "sub" / "inner.txt").write_text("inner\n")
    (root / ".flameignore").write_text("secret.txt\n")
    return root


def test_run_uploads_the_directory_and_runs_in_the_copy(flmctl: Flmctl, tmp_path: Path) -> None:
    proj = _project(tmp_path / "proj")
    done = flmctl("run", "--", "python", "-c", READ, cwd=proj)
    assert done.returncode == 0, done.stderr
    data, secret_seen, where = done.stdout.split()
    assert data == "uploaded-data"
    assert secret_seen == "False"  # .flameignore left it out
    assert Path(where) != proj and Path(where).name.startswith("job-")  # <service cwd>/jobs/<job id>
    assert Path(where).parent.name == "jobs"

    sub = flmctl("run", "--workdir", "sub", "cat inner.txt; cat ../data.txt", cwd=proj)
    assert sub.returncode == 0, sub.stderr
    assert sub.stdout.splitlines() == ["inner", "uploaded-data"]  # in the copy's sub/


def test_array_tasks_share_one_copy_and_edits_do_not_reach_the_source(flmctl: Flmctl, tmp_path: Path) -> None:
    proj = _project(tmp_path / "proj")
    done = flmctl("run", "--array", "1-3", "echo $SLURM_ARRAY_TASK_ID >> out.txt; cat data.txt", cwd=proj)
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()) == [f"[{i}] uploaded-data" for i in range(3)]
    assert not (proj / "out.txt").exists()  # written in the node's copy


def test_no_upload_runs_in_the_directory_itself(flmctl: Flmctl, tmp_path: Path) -> None:
    proj = _project(tmp_path / "proj")
    done = flmctl("run", "--no-upload", "--", "python", "-c", READ, cwd=proj)
    assert done.returncode == 0, done.stderr
    data, secret_seen, where = done.stdout.split()
    assert (data, secret_seen, Path(where)) == ("uploaded-data", "True", proj)


def test_a_failed_fetch_fails_the_task_as_setup_failed(conn: flamepy.Connection) -> None:
    launch = TaskLaunch(
        job_id="job-0badf00d", job_name="broken", index=0, rank=0, ranks=1, array_index=None,
        argv=("true",), shell=None, archive="flmexec/uploads/does-not-exist",
    )  # fmt: skip
    ssn = conn.create_session(flamepy.SessionAttributes(application="flmexec"))
    try:
        with pytest.raises(flamepy.FlameError) as info:
            ssn.run(launch.to_task_input()).result(timeout=60)
    finally:
        ssn.close()
    message = str(info.value)
    assert "SetupFailed" in message and "cannot set up the job's uploaded files" in message


def test_jobs_run_uploads_the_current_directory_unless_a_workdir_is_given(
    conn: flamepy.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flamepy.jobs as jobs

    proj = _project(tmp_path / "proj")
    monkeypatch.chdir(proj)
    job = jobs.run("cat data.txt; pwd", conn=conn, wait=True)
    data, where = list(job.logs())
    assert data == "uploaded-data" and Path(where) != proj and Path(where).parent.name == "jobs"
    here = jobs.run("pwd", workdir=proj, conn=conn, wait=True)
    assert list(here.logs()) == [str(proj)]


def test_an_unreachable_cache_says_so_and_names_no_upload(flmctl: Flmctl, tmp_path: Path) -> None:
    proj = _project(tmp_path / "proj")
    broken = Flmctl(flmctl.endpoint, cache_endpoint="grpc://127.0.0.1:1")  # nothing listens on port 1
    done = broken("run", "--", "true", cwd=proj)
    assert done.returncode == 125, done.stderr
    assert f"cannot upload {proj} to the object cache" in done.stderr and "--no-upload" in done.stderr
    assert broken("run", "--no-upload", "--", "true", cwd=proj).returncode == 0
