"""The Executor actor with the in-process fake launcher (no subprocesses): ordering corner cases."""

from __future__ import annotations

import asyncio
from pathlib import Path

from executor.events import (
    BindRequest,
    ExecutorBound,
    ExecutorReleased,
    OutboundMessage,
    SessionContext,
    TaskOutcome,
    TaskRequest,
)
from executor.executor import Executor
from executor.fake_launcher import FakeBehaviour, FakeLauncher, FakeProcess
from executor.shim import HostShim, ShimSettings
from executor.state import ExecutorPhase
from flamepy.types import ApplicationAttributes, ApplicationContext, ResourceRequirement

WAIT = 10.0


def _request(executor_id: str = "e1") -> BindRequest:
    return BindRequest(
        executor_id=executor_id,
        application="app",
        spec=ApplicationAttributes(command="fake-service"),
        session=SessionContext("s1", ApplicationContext("app")),
        resreq=ResourceRequirement(),
    )


def _task(task_id: str, data: bytes | None = b"x") -> TaskRequest:
    return TaskRequest("e1", task_id, "s1", data)


class Harness:
    def __init__(self, tmp_path: Path, behaviour: FakeBehaviour) -> None:
        self.launcher = FakeLauncher(behaviour)
        shim = HostShim(
            ShimSettings(work_dir=tmp_path, frontend_endpoint="http://f", bind_timeout=5.0, crash_grace=1.0),
            self.launcher,
        )
        self.out: asyncio.Queue[OutboundMessage] = asyncio.Queue()
        self.executor = Executor(_request(), shim, self.out.put_nowait)

    async def next(self) -> OutboundMessage:
        return await asyncio.wait_for(self.out.get(), WAIT)


async def test_release_while_running_finishes_task_and_requeues_queue(tmp_path: Path) -> None:
    started = asyncio.Event()
    finish = asyncio.Event()

    async def slow(_proc: FakeProcess, data: bytes | None):
        started.set()
        await finish.wait()
        return 0, data, None

    h = Harness(tmp_path, FakeBehaviour(handler=slow))
    h.executor.start()
    assert await h.next() == ExecutorBound("e1")
    h.executor.enqueue(_task("t1"))
    h.executor.enqueue(_task("t2"))
    await asyncio.wait_for(started.wait(), WAIT)
    h.executor.request_release()
    assert h.executor.phase is ExecutorPhase.RELEASING
    requeued = await h.next()
    assert isinstance(requeued, TaskOutcome) and requeued.task_id == "t2" and requeued.requeue
    h.executor.enqueue(_task("t3"))  # too late: requeued at once
    late = await h.next()
    assert isinstance(late, TaskOutcome) and late.task_id == "t3" and late.requeue
    finish.set()
    done = await h.next()
    assert done == TaskOutcome("e1", "s1", "t1", 0, output=b"x")
    assert await h.next() == ExecutorReleased("e1")
    proc = h.launcher.started[0]
    assert proc.calls.left == 1 and proc.returncode is not None
    assert h.executor.history == [
        ExecutorPhase.BINDING,
        ExecutorPhase.BOUND,
        ExecutorPhase.RUNNING,
        ExecutorPhase.RELEASING,
        ExecutorPhase.RELEASED,
    ]


async def test_crash_while_idle_releases_with_message(tmp_path: Path) -> None:
    h = Harness(tmp_path, FakeBehaviour())
    h.executor.start()
    assert await h.next() == ExecutorBound("e1")
    h.launcher.started[0].crash(-9)
    released = await h.next()
    assert isinstance(released, ExecutorReleased)
    assert released.message is not None and "exited with code -9 while idle" in released.message
    assert h.executor.phase is ExecutorPhase.RELEASED
    assert ExecutorPhase.CRASHED in h.executor.history


async def test_crash_mid_task_with_fake(tmp_path: Path) -> None:
    async def crash(proc: FakeProcess, _data: bytes | None):
        proc.crash(-9)
        await asyncio.Event().wait()  # never answers
        return 0, None, None

    h = Harness(tmp_path, FakeBehaviour(handler=crash))
    h.executor.start()
    await h.next()
    h.executor.enqueue(_task("t1"))
    h.executor.enqueue(_task("t2"))
    failed = await h.next()
    assert isinstance(failed, TaskOutcome) and failed.task_id == "t1" and failed.return_code == -9
    assert failed.message is not None and "while running task t1 of session s1" in failed.message
    requeued = await h.next()
    assert isinstance(requeued, TaskOutcome) and requeued.requeue and requeued.task_id == "t2"
    released = await h.next()
    assert isinstance(released, ExecutorReleased) and released.message


async def test_release_during_bind_binds_then_releases(tmp_path: Path) -> None:
    h = Harness(tmp_path, FakeBehaviour())
    h.executor.start()
    h.executor.request_release()
    assert await h.next() == ExecutorBound("e1")
    assert await h.next() == ExecutorReleased("e1")


async def test_abort_is_silent_and_terminates(tmp_path: Path) -> None:
    h = Harness(tmp_path, FakeBehaviour())
    h.executor.start()
    await h.next()
    await h.executor.abort()
    assert h.launcher.started[0].returncode == -15
    assert h.out.empty()
