"""Task timeouts, cancelling tasks and releases that always complete, against real service
processes (a raw flame.v1 service over gRPC and a flamepy service over the task pipe)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import psutil
import pytest
from executor_testkit import (
    NodeStream,
    bind_msg,
    cancel_msg,
    fake_backend,
    release_msg,
    running_manager,
    service_pid,
    task_msg,
)

from executor import launcher
from executor.launcher import SubprocessService

ROOT = Path(__file__).resolve().parents[2]
HANG = str(ROOT / "tests" / "e2e" / "timeout_service.py")
GRACE = 1.0  # the manager's kill grace in these tests


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def wait_gone(pid: int, limit: float = 5.0) -> bool:
    """A child of another process may take a moment to be reaped by init once killed."""
    deadline = time.monotonic() + limit
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)  # bounded poll of the OS process table (nothing to wait on)
    return True


async def child_pid(tmp_path: Path, executor_id: str) -> int:
    """The ``sleep`` child the raw service started for a b"hang" task (from its stdout log)."""
    log = tmp_path / "logs" / f"{executor_id}.out"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in log.read_text().splitlines() if log.exists() else []:
            if line.startswith("child "):
                return int(line.split()[1])
        await asyncio.sleep(0.05)  # bounded poll of a file written by another process
    raise AssertionError("the service never started its child")


async def result(stream: NodeStream):
    return (await stream.recv("task_result")).task_result


@pytest.mark.parametrize("mode", ["echo", "ignore_term"])
async def test_a_hung_task_times_out_and_its_process_group_is_stopped(tmp_path: Path, mode: str) -> None:
    async with fake_backend() as backend, running_manager(backend, tmp_path, terminate_grace=GRACE) as m:
        stream, _ = await backend.accept()
        stream.send(bind_msg("e1", mode))
        await stream.recv("executor_bound")
        pid = service_pid(m, "e1")
        started = time.monotonic()
        stream.send(task_msg("e1", "t1", b"hang", attempt=2, timeout_ms=1000))
        stream.send(task_msg("e1", "t2", b"queued", attempt=1))
        child = await child_pid(tmp_path, "e1")
        r = await result(stream)
        elapsed = time.monotonic() - started
        assert (r.task_id, r.attempt, r.timed_out, r.service_stopped, r.cancelled) == (
            "t1",
            2,
            True,
            True,
            False,
        )
        assert r.message == "timed out after 1s" and not r.requeue and not r.crashed
        assert 1.0 <= elapsed < 1.0 + GRACE + 3.0
        queued = await result(stream)
        assert (queued.task_id, queued.requeue) == ("t2", True)
        released = (await stream.recv("executor_released")).executor_released
        assert released.executor_id == "e1" and not released.HasField("message")
        assert gone(pid) and await wait_gone(child)


async def test_cancel_a_running_and_a_queued_task(tmp_path: Path) -> None:
    async with fake_backend() as backend, running_manager(backend, tmp_path, terminate_grace=GRACE) as m:
        stream, _ = await backend.accept()
        stream.send(bind_msg("e1"))
        await stream.recv("executor_bound")
        pid = service_pid(m, "e1")
        stream.send(task_msg("e1", "t1", b"hang", attempt=1))
        stream.send(task_msg("e1", "t2", b"queued", attempt=1))
        stream.send(task_msg("e1", "t3", b"queued", attempt=1))
        child = await child_pid(tmp_path, "e1")
        stream.send(cancel_msg("e1", "t2", reason="not needed"))
        r2 = await result(stream)
        assert (r2.task_id, r2.cancelled, r2.service_stopped, r2.message) == ("t2", True, False, "not needed")
        assert not gone(pid)  # a queued task is dropped without stopping the service
        stream.send(cancel_msg("e1", "t1", attempt=1, reason="stop it"))
        r1 = await result(stream)
        assert (r1.task_id, r1.cancelled, r1.service_stopped, r1.timed_out) == ("t1", True, True, False)
        assert r1.message == "stop it"
        r3 = await result(stream)
        assert (r3.task_id, r3.requeue) == ("t3", True)
        released = (await stream.recv("executor_released")).executor_released
        assert not released.HasField("message")
        assert gone(pid) and await wait_gone(child)
        stream.send(cancel_msg("e1", "t1"))  # idempotent: an executor that is gone ignores it
        stream.send(release_msg("e1"))
        again = (await stream.recv("executor_released")).executor_released
        assert "not on this node" in again.message


async def test_timeout_and_cancel_over_the_task_pipe(tmp_path: Path) -> None:
    async with fake_backend() as backend, running_manager(backend, tmp_path, terminate_grace=GRACE) as m:
        stream, _ = await backend.accept()
        for eid in ("e1", "e2"):
            stream.send(bind_msg(eid, command=sys.executable, arguments=[HANG], session_id=eid))
            await stream.recv("executor_bound")
            assert m.session is not None and m.session.executors[eid].instance.pipe is not None
        pids = [service_pid(m, "e1"), service_pid(m, "e2")]
        stream.send(task_msg("e1", "t1", b"fast", session_id="e1", timeout_ms=5000))
        fast = await result(stream)
        assert (fast.task_id, fast.return_code, fast.output) == ("t1", 0, b"fast")
        stream.send(task_msg("e1", "t2", b"hang", session_id="e1", timeout_ms=500))
        stream.send(task_msg("e2", "t1", b"hang", session_id="e2"))
        timed_out = await result(stream)
        assert (timed_out.session_id, timed_out.task_id, timed_out.timed_out) == ("e1", "t2", True)
        assert timed_out.message == "timed out after 0.5s"
        await stream.recv("executor_released")
        stream.send(cancel_msg("e2", "t1", session_id="e2"))
        cancelled = await result(stream)
        assert (cancelled.session_id, cancelled.cancelled, cancelled.service_stopped) == ("e2", True, True)
        await stream.recv("executor_released")
        assert all(gone(pid) for pid in pids)


class _Unkillable:
    """A process that outlives SIGKILL (D state): ``wait`` never returns."""

    pid = 2**22 + 7  # no such process: the signals go nowhere
    returncode = None

    async def wait(self) -> int:
        await asyncio.Event().wait()
        return 0


async def test_terminate_gives_up_on_a_process_that_outlives_sigkill(monkeypatch) -> None:
    monkeypatch.setattr(launcher, "REAP_AFTER_KILL_S", 0.2)
    started = time.monotonic()
    code = await SubprocessService(_Unkillable()).terminate(0.2)  # type: ignore[arg-type]
    assert code == -9 and time.monotonic() - started < 2.0


async def test_a_stream_that_breaks_while_a_service_is_being_stopped_still_kills_it(tmp_path: Path) -> None:
    async with fake_backend() as backend, running_manager(backend, tmp_path, terminate_grace=GRACE) as m:
        stream, _ = await backend.accept()
        stream.send(bind_msg("e1", "ignore_term"))
        await stream.recv("executor_bound")
        pid = service_pid(m, "e1")
        stream.send(task_msg("e1", "t1", b"hang", timeout_ms=300))
        child = await child_pid(tmp_path, "e1")
        executor = m.session.executors["e1"] if m.session is not None else None
        assert executor is not None
        deadline = time.monotonic() + 10
        while executor.phase.value != "stopping":  # SIGTERM sent, ignored: in the kill grace now
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)  # bounded poll of the executor's phase
        stream.close()  # the node stream breaks: the executor is aborted mid-stop
        assert await wait_gone(pid, GRACE + 5) and await wait_gone(child)


def test_kill_grace_flag(tmp_path: Path) -> None:
    from executor.__main__ import parse_args

    base = ["--endpoint", "http://127.0.0.1:1", "--work-dir", str(tmp_path)]
    assert parse_args(base).terminate_grace == 10.0
    assert parse_args([*base, "--kill-grace", "2.5"]).terminate_grace == 2.5
    with pytest.raises(SystemExit):
        parse_args([*base, "--kill-grace", "-1"])
