"""The command application's job runner with real subprocesses: exit codes, logs, env, timeout, cancel."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

import flamepy
from flamepy.apps import flmexec
from flamepy.apps.joblog import MAX_LINE_BYTES, read_records
from flamepy.apps.jobresult import JobFailed, JobResult, parse_failure
from flamepy.apps.jobrun import JobRunner, log_path
from flamepy.jobs import ArraySpec, JobSpec, TaskLaunch, expand
from tests.support import wait_until

BOUND_S = 20.0


def launch_of(tmp_path: Path, command: str | tuple[str, ...], index: int = 0, **spec: Any) -> TaskLaunch:
    spec.setdefault("workdir", str(tmp_path))
    spec.setdefault("upload", False)
    return expand(JobSpec(command=command, **spec), job_id="j-1")[index]


@pytest.fixture
def runner(tmp_path: Path) -> JobRunner:
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    return JobRunner(
        logs_dir=tmp_path / "logs", base_dir=tmp_path, service_env=env, kill_grace_s=0.5, cancel_grace_s=0.5
    )


def records(result: JobResult, stream: str | None = None) -> list[dict[str, Any]]:
    """The records of the latest attempt in the result's log (tests reuse job ids)."""
    return [
        r for r in read_records(Path(result.log), latest_attempt=True) if stream is None or r["s"] == stream
    ]


def lines(result: JobResult, stream: str) -> list[str]:
    return [r["l"] for r in records(result, stream)]


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# -- exit codes, output, result ------------------------------------------------------------------


def test_exit_zero_completes_with_output_streams_and_result_json(runner: JobRunner, tmp_path: Path) -> None:
    launch = launch_of(tmp_path, "echo hello; echo oops >&2; echo bye")
    result = runner.run(launch)
    assert (result.exit_code, result.reason, result.ok) == (0, "Completed", True)
    assert result.log == str(tmp_path / "logs" / "j-1" / "0.log") == str(log_path(runner.logs_dir, launch))
    assert lines(result, "out") == ["hello", "bye"]
    assert lines(result, "err") == ["oops"]
    assert all(isinstance(r["t"], int) and r["t"] > 1_600_000_000_000 for r in records(result))
    assert [r["e"] for r in records(result, "sys")] == ["start", "exec", "exit"]
    assert "hello\n" in result.tail and "oops\n" in result.tail
    decoded = JobResult.from_json(runner.run_task(launch.to_task_input()))
    assert decoded.exit_code == 0 and decoded.reason == "Completed"
    assert json.loads(decoded.to_json())["kind"] == "flame.job-result/v1"


def test_nonzero_exit_code_passes_through_and_fails_the_task(runner: JobRunner, tmp_path: Path) -> None:
    launch = launch_of(tmp_path, "echo about to fail >&2; exit 7")
    assert (runner.run(launch).exit_code, runner.run(launch).reason) == (7, "Failed")
    with pytest.raises(JobFailed) as info:
        runner.run_task(launch.to_task_input())
    message = f"{type(info.value).__name__}: {info.value}"  # as the service runtime reports it
    assert parse_failure(message) == (7, "Failed")
    assert "about to fail" in message and info.value.result.exit_code == 7
    assert parse_failure("something else entirely") is None


def test_argv_command_runs_without_a_shell(runner: JobRunner, tmp_path: Path) -> None:
    code = "import sys; print(sys.argv[1:]); sys.exit(3)"
    result = runner.run(launch_of(tmp_path, (sys.executable, "-c", code, "a b", "$HOME")))
    assert result.exit_code == 3 and lines(result, "out") == ["['a b', '$HOME']"]
    missing = runner.run(launch_of(tmp_path, ("/no/such/program",)))
    assert (missing.exit_code, missing.reason) == (127, "Failed") and "cannot run" in missing.tail


def test_setup_runs_first_in_the_cwd_and_its_failure_fails_the_task(
    runner: JobRunner, tmp_path: Path
) -> None:
    ok = runner.run(launch_of(tmp_path, "cat made", setup="echo prepared > made"))
    assert ok.reason == "Completed" and lines(ok, "out") == ["prepared"]
    bad = runner.run(launch_of(tmp_path, "echo never", setup="echo no deps >&2; exit 4"))
    assert (bad.exit_code, bad.reason) == (4, "SetupFailed")
    assert "no deps" in bad.tail and "never" not in bad.tail
    with pytest.raises(JobFailed, match=r"exit code 4 \(SetupFailed\)"):
        runner.run_task(launch_of(tmp_path, "echo never", setup="exit 4").to_task_input())


def test_cwd_absolute_relative_and_missing(tmp_path: Path) -> None:
    (tmp_path / "up" / "sub").mkdir(parents=True)
    runner = JobRunner(logs_dir=tmp_path / "logs", base_dir=tmp_path, upload_dir=tmp_path / "up")
    uploaded = launch_of(tmp_path, "pwd", upload=True)
    assert lines(runner.run(uploaded), "out") == [str(tmp_path / "up")]
    assert lines(runner.run(launch_of(tmp_path / "up" / "sub", "pwd")), "out") == [
        str(tmp_path / "up" / "sub")
    ]
    missing = runner.run(launch_of(tmp_path / "gone", "pwd"))
    assert (missing.exit_code, missing.reason) == (1, "SetupFailed") and "does not exist" in missing.tail
    default = JobRunner(logs_dir=tmp_path / "logs")
    assert default.base_dir == Path.cwd() and default.resolve_cwd(uploaded) == Path.cwd()


# -- environment ----------------------------------------------------------------------------------


def test_rank_variables_and_master_addr_filled(runner: JobRunner, tmp_path: Path) -> None:
    show = "echo $FLAME_NODE_RANK/$FLAME_NUM_NODES/$WORLD_SIZE/$MASTER_ADDR/$PET_MASTER_ADDR/$FLAME_JOB_ID"
    launch = launch_of(tmp_path, show, index=1, instances=2)
    assert launch.needs_fill
    assert lines(runner.run(launch), "out") == ["1/2/2/127.0.0.1/127.0.0.1/j-1"]
    assert lines(runner.run(launch, master_addr="10.0.0.5"), "out") == ["1/2/2/10.0.0.5/10.0.0.5/j-1"]


def test_array_task_sees_its_slurm_index(runner: JobRunner, tmp_path: Path) -> None:
    launch = launch_of(
        tmp_path, "echo $SLURM_ARRAY_TASK_ID $SLURM_ARRAY_TASK_COUNT", index=1, array=ArraySpec((3, 5))
    )
    result = runner.run(launch)
    assert lines(result, "out") == ["5 2"]
    assert result.log.endswith("/j-1/1.log")


def test_cuda_visible_devices_of_the_service_wins(tmp_path: Path) -> None:
    launch = launch_of(
        tmp_path,
        "echo ${CUDA_VISIBLE_DEVICES-unset} $FROM_JOB",
        env={"CUDA_VISIBLE_DEVICES": "7", "FROM_JOB": "yes"},
    )
    base = {"PATH": os.environ["PATH"]}
    gpu = JobRunner(logs_dir=tmp_path / "l1", service_env={**base, "CUDA_VISIBLE_DEVICES": "2,3"})
    assert lines(gpu.run(launch), "out") == ["2,3 yes"]
    plain = JobRunner(logs_dir=tmp_path / "l2", service_env=base)
    assert lines(plain.run(launch), "out") == ["7 yes"]
    env = plain.environment(launch, {"FLAME_TASK_ID": "9", "FLAME_INSTANCE_ENDPOINT": "/x.sock"})
    assert env["FLAME_TASK_ID"] == "9" and "FLAME_INSTANCE_ENDPOINT" not in env


# -- output formats -------------------------------------------------------------------------------


def test_stdout_and_stderr_pattern_files(runner: JobRunner, tmp_path: Path) -> None:
    both = launch_of(tmp_path, "echo out; echo err >&2", stdout="o-%j.txt", stderr="logs/e-%j.txt")
    runner.run(both)
    assert (tmp_path / "o-j-1.txt").read_text() == "out\n"
    assert (tmp_path / "logs" / "e-j-1.txt").read_text() == "err\n"
    shared = launch_of(tmp_path, "echo one; echo two >&2", stdout="all.txt")
    runner.run(shared)
    assert sorted((tmp_path / "all.txt").read_text().splitlines()) == ["one", "two"]
    array = launch_of(tmp_path, "printf '\\377raw\\n'", stdout="a-%A_%a.out", array=ArraySpec((4,)))
    runner.run(array)
    assert (tmp_path / "a-j-1_4.out").read_bytes() == b"\xffraw\n"


def test_an_output_file_that_cannot_be_opened_fails_the_setup(runner: JobRunner, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    result = runner.run(launch_of(tmp_path, "echo never", stdout="taken"))
    assert (result.exit_code, result.reason) == (1, "SetupFailed")
    assert "cannot open the output file" in result.tail and "never" not in result.tail


def test_non_utf8_output_is_replaced_in_the_log(runner: JobRunner, tmp_path: Path) -> None:
    result = runner.run(launch_of(tmp_path, "printf 'caf\\303\\251 \\377\\376 end\\n'; printf 'no newline'"))
    assert lines(result, "out") == ["café \ufffd\ufffd end", "no newline"]


def test_very_long_lines_are_split_into_continued_records(runner: JobRunner, tmp_path: Path) -> None:
    n = 3 * MAX_LINE_BYTES + 10
    code = f"import sys; sys.stdout.write('é' * {n // 2} + 'x' * {n % 2} + '\\nshort\\n')"
    result = runner.run(launch_of(tmp_path, (sys.executable, "-c", code)))
    out = records(result, "out")
    assert len(out) > 3 and all(r.get("c") == 1 for r in out[:-2]) and "c" not in out[-2]
    assert all(len(r["l"].encode()) <= MAX_LINE_BYTES for r in out)
    assert "".join(r["l"] for r in out[:-1]) == "é" * (n // 2) + "x" * (n % 2)  # no split character
    assert out[-1]["l"] == "short"
    assert len(result.tail) <= 4096


def test_retry_appends_and_latest_attempt_reads_from_the_last_start(
    runner: JobRunner, tmp_path: Path
) -> None:
    launch = launch_of(tmp_path, "echo attempt")
    runner.run(launch)
    result = runner.run(launch)
    assert [r["l"] for r in read_records(Path(result.log)) if r["s"] == "out"] == ["attempt", "attempt"]
    latest = list(read_records(Path(result.log), latest_attempt=True))
    assert [r["s"] for r in latest] == ["sys", "sys", "out", "sys"]


# -- timeout and cancel ---------------------------------------------------------------------------

PIDS_AND_SLEEP = "trap '' TERM; sleep 300 & echo \"pids $$ $!\"; wait; wait"


def job_pids(log: Path) -> list[int]:
    for record in read_records(log) if log.exists() else ():
        if record["s"] == "out" and record["l"].startswith("pids "):
            return [int(p) for p in record["l"].split()[1:]]
    return []


def job_started(log: Path) -> bool:
    """Both job processes are up and the background one has become ``sleep``: before its exec, the
    forked shell may swallow a SIGTERM (bash's own handler) and the exec'd sleep then lives on."""
    pids = job_pids(log)
    if len(pids) != 2:
        return False
    with contextlib.suppress(psutil.Error):
        return psutil.Process(pids[1]).name() == "sleep"
    return False


def test_timeout_kills_the_process_group_and_exits_124(runner: JobRunner, tmp_path: Path) -> None:
    result = runner.run(launch_of(tmp_path, PIDS_AND_SLEEP, timeout=0.5))
    assert (result.exit_code, result.reason) == (124, "Timeout")
    pids = job_pids(Path(result.log))
    assert len(pids) == 2
    wait_until(lambda: all(gone(p) for p in pids), BOUND_S)
    assert [r["e"] for r in records(result, "sys")] == ["start", "exec", "timeout", "exit"]
    with pytest.raises(JobFailed, match=r"exit code 124 \(Timeout\)"):
        runner.run_task(launch_of(tmp_path, "sleep 300", timeout=0.3).to_task_input())


def test_processes_left_behind_after_exit_are_stopped(runner: JobRunner, tmp_path: Path) -> None:
    result = runner.run(launch_of(tmp_path, 'sleep 300 & echo "pids $!"'))
    assert result.reason == "Completed"
    pids = job_pids(Path(result.log))
    wait_until(lambda: all(gone(p) for p in pids), BOUND_S)


def test_cancel_from_another_thread_stops_the_job(runner: JobRunner, tmp_path: Path) -> None:
    launch = launch_of(tmp_path, PIDS_AND_SLEEP)
    results: list[JobResult] = []
    thread = threading.Thread(target=lambda: results.append(runner.run(launch)))
    thread.start()
    log = log_path(runner.logs_dir, launch)
    wait_until(lambda: job_started(log), BOUND_S)
    assert runner.busy and runner.cancel(signal.SIGTERM) == 1
    thread.join(BOUND_S)
    assert not runner.busy and runner.wait_idle(0)
    assert (results[0].exit_code, results[0].reason) == (128 + signal.SIGKILL, "Cancelled")
    wait_until(lambda: all(gone(p) for p in job_pids(log)), BOUND_S)


def test_a_job_that_exits_0_on_sigterm_still_reads_as_cancelled(runner: JobRunner, tmp_path: Path) -> None:
    launch = launch_of(tmp_path, "trap 'exit 0' TERM; sleep 300 & echo \"pids $$ $!\"; wait")
    results: list[JobResult] = []
    thread = threading.Thread(target=lambda: results.append(runner.run(launch)))
    thread.start()
    log = log_path(runner.logs_dir, launch)
    wait_until(lambda: job_started(log), BOUND_S)
    runner.cancel(signal.SIGTERM)
    thread.join(BOUND_S)
    assert (results[0].exit_code, results[0].reason) == (128 + signal.SIGTERM, "Cancelled")


DRIVER = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from flamepy.apps.jobrun import JobRunner, install_signal_forwarding
    from flamepy.common.mainwait import wait_in_main_thread
    grace = float(sys.argv[2])
    runner = JobRunner(logs_dir=Path(sys.argv[1]), cancel_grace_s=grace, kill_grace_s=grace)
    install_signal_forwarding(runner)
    raw = sys.stdin.buffer.read()
    worker = threading.Thread(target=lambda: runner.run_task(raw), daemon=True)
    worker.start()
    wait_in_main_thread(threading.Event())  # as the service: the main thread waits, a worker runs the task
    """
)


@pytest.mark.parametrize(
    ("script", "grace"), [(PIDS_AND_SLEEP, 0.5), ('sleep 300 & echo "pids $$ $!"; wait', 30.0)]
)
def test_sigterm_to_the_service_cancels_the_job_then_the_service_dies(
    tmp_path: Path, script: str, grace: float
) -> None:
    launch = launch_of(tmp_path, script)
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(tmp_path / "logs"), str(grace)], stdin=subprocess.PIPE
    )
    try:
        assert driver.stdin is not None
        driver.stdin.write(launch.to_task_input())
        driver.stdin.close()
        log = log_path(tmp_path / "logs", launch)
        wait_until(lambda: job_started(log), BOUND_S)
        driver.send_signal(signal.SIGTERM)
        assert driver.wait(BOUND_S) == -signal.SIGTERM
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
    wait_until(lambda: all(gone(p) for p in job_pids(log)), BOUND_S)
    sys_records = [r for r in read_records(log) if r["s"] == "sys"]
    assert [r["e"] for r in sys_records] == ["start", "exec", "cancel", "exit"]
    assert sys_records[-1]["reason"] == "Cancelled"


def test_a_service_killed_hard_leaves_no_job_behind(tmp_path: Path) -> None:
    """SIGKILL reaches neither the job (own session) nor a handler: the guard process stops it."""
    launch = launch_of(tmp_path, PIDS_AND_SLEEP)
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(tmp_path / "logs"), "0.3"], stdin=subprocess.PIPE
    )
    assert driver.stdin is not None
    driver.stdin.write(launch.to_task_input())
    driver.stdin.close()
    log = log_path(tmp_path / "logs", launch)
    wait_until(lambda: job_started(log), BOUND_S)
    driver.kill()
    assert driver.wait(BOUND_S) == -signal.SIGKILL
    wait_until(lambda: all(gone(p) for p in job_pids(log)), BOUND_S)


def test_service_without_a_running_job_dies_of_sigterm_at_once(tmp_path: Path) -> None:
    idle = DRIVER.replace("worker.start()", "pass").replace(
        "raw = sys.stdin.buffer.read()", "print('ready', flush=True)"
    )
    driver = subprocess.Popen([sys.executable, "-c", idle, str(tmp_path), "1"], stdout=subprocess.PIPE)
    assert driver.stdout is not None and driver.stdout.readline() == b"ready\n"
    driver.send_signal(signal.SIGTERM)
    assert driver.wait(BOUND_S) == -signal.SIGTERM


# -- through flmexec ------------------------------------------------------------------------------


class _Session:
    session_id = "ssn-9"

    def common_data(self) -> bytes | None:
        return b"common"


@pytest.fixture
def exec_service(runner: JobRunner) -> Iterator[flmexec.Exec]:
    service = flmexec.Exec(jobs=runner)
    service.on_session_enter(_Session())  # type: ignore[arg-type]
    yield service


def test_flmexec_runs_job_inputs_and_keeps_its_other_forms(
    exec_service: flmexec.Exec, tmp_path: Path
) -> None:
    launch = launch_of(tmp_path, "echo $FLAME_SESSION_ID $FLAME_TASK_ID $FLAME_COMMON_DATA $FLAME_JOB_NAME")
    out = exec_service.on_task_invoke(
        flamepy.TaskContext(task_id="4", session_id="ssn-9", input=launch.to_task_input())
    )
    assert out is not None
    result = JobResult.from_json(out)
    assert lines(result, "out") == ["ssn-9 4 common job"]
    failing = launch_of(tmp_path, "exit 3").to_task_input()
    with pytest.raises(JobFailed, match=r"exit code 3 \(Failed\)"):
        exec_service.on_task_invoke(flamepy.TaskContext(task_id="5", session_id="ssn-9", input=failing))
    raw = exec_service.on_task_invoke(
        flamepy.TaskContext(task_id="6", session_id="ssn-9", input=b"echo raw flame.job/")
    )
    assert raw == b"raw flame.job/\n"
    sandbox = json.dumps({"language": "shell", "code": "echo sandbox", "input": None}).encode()
    answer = exec_service.on_task_invoke(flamepy.TaskContext(task_id="7", session_id="ssn-9", input=sandbox))
    assert answer is not None and bytes(json.loads(answer)["data"]) == b"sandbox\n"
    big = launch_of(tmp_path, "echo ${#BIG}", env={"BIG": "x" * 100_000})  # "kind" far into the JSON
    big_out = exec_service.on_task_invoke(
        flamepy.TaskContext(task_id="9", session_id="ssn-9", input=big.to_task_input())
    )
    assert big_out is not None and lines(JobResult.from_json(big_out), "out") == ["100000"]
    wrong = json.dumps({"kind": "flame.job/v9"}).encode()
    with pytest.raises(flamepy.jobs.JobSpecError, match="expected kind"):
        exec_service.on_task_invoke(flamepy.TaskContext(task_id="8", session_id="ssn-9", input=wrong))
