"""The node side of GetTaskStats / ExecInTask on real processes: a job's process group found from
the state file its runner writes, measured with psutil; a command run in the job's directory with
its environment, its output and exit code, its timeout and its stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from executor import taskexec
from executor.events import ExecOutput, ExecRequest, OutboundMessage, StatsRequest
from executor.taskprobe import gpu_stats, measure
from flamepy.apps.joblog import link_index
from flamepy.apps.jobstate import read_state, state_path, write_state
from flamepy.taskprobe import GpuStats
from tests.support import wait_until


@pytest.fixture
def job(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes], Path]]:
    """A job as the runner starts one: a process group of two processes, its state indexed."""
    root, cwd = tmp_path / "index", tmp_path / "work"
    cwd.mkdir()
    env = {"PATH": os.environ["PATH"], "MYVAR": "from-the-job", "CUDA_VISIBLE_DEVICES": "1,0"}
    proc = subprocess.Popen(
        ["sh", "-c", "sleep 60 & exec sleep 61"], cwd=cwd, env=env, start_new_session=True
    )
    entry = link_index(root, "s1", "3", tmp_path / "task.log")
    write_state(entry, proc.pid, cwd, env)
    yield root, proc, cwd
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, 9)
    proc.wait()


def _group(pgid: int) -> list[int]:
    """The live (not zombie) processes of the group."""
    return [p.pid for p in psutil.process_iter() if _pgid(p.pid) == pgid and not _zombie(p)]


def _zombie(p: psutil.Process) -> bool:
    try:
        return p.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def test_the_state_file_is_owner_only_and_names_the_process(job) -> None:
    root, proc, cwd = job
    path = state_path(root, "s1", "3")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    state = read_state(path)
    assert state is not None and (state.pid, state.cwd, state.env["MYVAR"]) == (
        proc.pid,
        str(cwd),
        "from-the-job",
    )
    assert state.gpus == (1, 0)


def test_stats_of_a_real_process_group(job) -> None:
    root, proc, _ = job
    members = wait_until(lambda: len(_group(proc.pid)) == 2 and _group(proc.pid), 10)
    data = measure(root, StatsRequest(7, "s1", "3"), fake_gpus=True, sample_s=0.05)
    assert data.request_id == 7 and data.stats is not None and not data.error
    assert data.stats.running and sorted(data.stats.pids) == sorted(members)
    assert data.stats.rss_bytes > 0 and data.stats.cpu_percent >= 0
    assert data.stats.gpus == (GpuStats(1), GpuStats(0))  # a fake inventory: indexes only
    os.killpg(proc.pid, 9)
    proc.wait()
    wait_until(lambda: not _group(proc.pid), 10)
    gone = measure(root, StatsRequest(8, "s1", "3"), fake_gpus=True, sample_s=0.05)
    assert gone.stats is not None and not gone.stats.running and gone.stats.pids == ()


def test_a_reused_pid_is_not_the_job_and_a_task_without_state_is_not_found(job, tmp_path: Path) -> None:
    root, proc, cwd = job
    entry = link_index(root, "s1", "4", tmp_path / "other.log")
    write_state(entry, proc.pid, cwd, {})
    path = state_path(root, "s1", "4")
    path.write_text(path.read_text().replace('"create_time": ', '"create_time": 1'))  # another start time
    data = measure(root, StatsRequest(1, "s1", "4"), fake_gpus=False, sample_s=0.01)
    assert data.stats is not None and not data.stats.running
    missing = measure(root, StatsRequest(2, "s1", "nope"), fake_gpus=False, sample_s=0.01)
    assert missing.not_found and "has no running job on this node" in missing.error
    assert measure(root, StatsRequest(3, "s1", "../x"), fake_gpus=False).not_found


def test_gpus_without_nvml_are_indexes_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pynvml", None)  # nvidia-ml-py missing: ImportError
    assert gpu_stats((2, 3), {1}) == (GpuStats(2), GpuStats(3))
    assert gpu_stats((), {1}) == ()


class _FakeNvml:
    """NVML as nvidia-ml-py shows it, for two GPUs; GPU 5 fails."""

    class NVMLError(Exception):
        pass

    def __init__(self) -> None:
        self.shutdowns = 0

    def nvmlInit(self) -> None:
        pass

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        if index == 5:
            raise self.NVMLError("GPU is lost")
        return index

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(gpu=30 + handle)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(total=80 << 30)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> list[SimpleNamespace]:
        return [
            SimpleNamespace(pid=11, usedGpuMemory=1 << 30),
            SimpleNamespace(pid=99, usedGpuMemory=7 << 30),
        ]

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: int) -> list[SimpleNamespace]:
        return [SimpleNamespace(pid=12, usedGpuMemory=None), SimpleNamespace(pid=12, usedGpuMemory=1 << 20)]


def test_gpu_numbers_from_nvml_count_only_the_jobs_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    nvml = _FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    got = gpu_stats((1, 5), {11, 12})
    assert got == (GpuStats(1, 31.0, (1 << 30) + (1 << 20), 80 << 30), GpuStats(5))  # 5: an NVML error
    assert nvml.shutdowns == 1


def _run(root: Path, req: ExecRequest) -> list[ExecOutput]:
    out: list[OutboundMessage] = []
    asyncio.run(taskexec.run_exec(root, req, out.append))
    assert all(isinstance(m, ExecOutput) for m in out)
    return [m for m in out if isinstance(m, ExecOutput)]


def test_exec_runs_in_the_jobs_directory_with_its_environment(job) -> None:
    root, _, cwd = job
    script = "pwd; echo $MYVAR $CUDA_VISIBLE_DEVICES; echo err >&2; exit 7"
    msgs = _run(root, ExecRequest(5, "s1", "3", ("sh", "-c", script), 30))
    assert {m.request_id for m in msgs} == {5} and msgs[-1].chunk.done
    assert b"".join(m.chunk.data for m in msgs) == f"{cwd}\nfrom-the-job 1,0\nerr\n".encode()
    assert (msgs[-1].chunk.exit_code, msgs[-1].chunk.note) == (7, "")
    missing = _run(root, ExecRequest(6, "s1", "3", ("no-such-command-xyz",), 30))
    assert missing[-1].chunk.exit_code == 127 and b"no-such-command-xyz" in missing[-1].chunk.data


def test_exec_timeout_kills_the_commands_group_and_output_is_bounded(job, monkeypatch) -> None:
    root, _, _ = job
    msgs = _run(root, ExecRequest(1, "s1", "3", ("sh", "-c", "echo $$; sleep 30 & wait"), 0.5))
    pid = int(msgs[0].chunk.data)
    assert (msgs[-1].chunk.exit_code, msgs[-1].chunk.note) == (124, "timed out after 0.5s: killed")
    wait_until(lambda: not _group(pid), 10)  # SIGKILLed: gone once reaped
    monkeypatch.setattr(taskexec, "EXEC_MAX_OUTPUT_BYTES", 10)
    bounded = _run(root, ExecRequest(2, "s1", "3", ("sh", "-c", "echo 0123456789abcdef; exit 3"), 30))
    assert b"".join(m.chunk.data for m in bounded) == b"0123456789"
    assert bounded[-1].chunk.exit_code == 3 and "was dropped" in bounded[-1].chunk.note


def test_exec_beside_an_ended_job_or_an_unknown_task_never_starts(job) -> None:
    root, proc, _ = job
    unknown = _run(root, ExecRequest(1, "s1", "9", ("true",), 30))
    assert len(unknown) == 1 and unknown[0].not_found and unknown[0].chunk.done
    os.killpg(proc.pid, 9)
    proc.wait()
    wait_until(lambda: not _group(proc.pid), 10)
    ended = _run(root, ExecRequest(2, "s1", "3", ("true",), 30))
    assert len(ended) == 1 and ended[0].not_running and "has ended" in ended[0].error


def test_a_stopped_exec_kills_its_command(job) -> None:
    root, _, _ = job
    out: list[OutboundMessage] = []

    async def scenario() -> int:
        first = asyncio.Event()
        execs = taskexec.Execs(root, lambda m: (out.append(m), first.set()))
        execs.start(ExecRequest(4, "s1", "3", ("sh", "-c", "echo $$; exec sleep 30"), 60))
        [running] = execs._running.values()
        await first.wait()  # its first output: the command runs
        pid = int(out[0].chunk.data) if isinstance(out[0], ExecOutput) else 0
        execs.stop(4)
        await asyncio.wait([running])
        return pid

    pid = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert pid
    wait_until(lambda: not _group(pid), 10)
    assert len(out) == 1  # nothing after the stop: the caller is gone


def test_exec_when_the_jobs_directory_is_gone_says_so(job) -> None:
    root, _, cwd = job
    cwd.rmdir()
    [end] = _run(root, ExecRequest(1, "s1", "3", ("true",), 30))
    assert end.chunk.done and "working directory" in end.error and str(cwd) in end.error
