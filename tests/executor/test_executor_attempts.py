"""The executor echoes each task's attempt number in its outcome, and marks the outcome of a task
whose service process died running it as ``crashed`` (an infrastructure failure the session
manager retries), unlike a task that failed on its own."""

from __future__ import annotations

import sys
from pathlib import Path

from executor_testkit import bind_msg, fake_backend, running_manager, task_msg

ROOT = Path(__file__).resolve().parents[2]
FAULTY = str(ROOT / "tests" / "e2e" / "faulty_service.py")


async def test_outcomes_carry_the_attempt_and_a_service_death_is_marked_crashed(tmp_path: Path) -> None:
    async with fake_backend() as backend, running_manager(backend, tmp_path):
        stream, _ = await backend.accept()
        stream.send(bind_msg("e1", command=sys.executable, arguments=[FAULTY]))
        await stream.recv("executor_bound")
        stream.send(task_msg("e1", "t1", b"ok", attempt=3))
        ok = (await stream.recv("task_result")).task_result
        assert (ok.task_id, ok.return_code, ok.attempt, ok.crashed) == ("t1", 0, 3, False)
        stream.send(task_msg("e1", "t2", b"raise", attempt=1))
        failed = (await stream.recv("task_result")).task_result
        assert (failed.task_id, failed.attempt, failed.crashed) == (
            "t2",
            1,
            False,
        ) and failed.return_code != 0
        stream.send(task_msg("e1", "t3", b"crash", attempt=2))
        stream.send(task_msg("e1", "t4", b"queued", attempt=5))
        crashed = (await stream.recv("task_result")).task_result
        assert (crashed.task_id, crashed.attempt, crashed.crashed, crashed.requeue) == ("t3", 2, True, False)
        requeued = (await stream.recv("task_result")).task_result
        assert (requeued.task_id, requeued.attempt, requeued.requeue, requeued.crashed) == (
            "t4",
            5,
            True,
            False,
        )
        await stream.recv("executor_released")


async def test_over_grpc_a_crash_mid_task_is_marked_crashed_with_its_attempt(tmp_path: Path) -> None:
    raw = str(ROOT / "tests" / "executor" / "raw_service.py")  # no task pipe: OnTaskInvoke over gRPC
    async with fake_backend() as backend, running_manager(backend, tmp_path):
        stream, _ = await backend.accept()
        stream.send(bind_msg("e1", command=sys.executable, arguments=[raw, "echo"]))
        await stream.recv("executor_bound")
        stream.send(task_msg("e1", "t1", b"fail", attempt=4))
        failed = (await stream.recv("task_result")).task_result
        assert (failed.return_code, failed.attempt, failed.crashed) == (1, 4, False)
        stream.send(task_msg("e1", "t2", b"crash", attempt=7))
        crashed = (await stream.recv("task_result")).task_result
        assert (crashed.task_id, crashed.attempt, crashed.crashed) == (
            "t2",
            7,
            True,
        ) and crashed.return_code != 0
        await stream.recv("executor_released")
