"""Bind → tasks → release against a real raw service process, through a fake session manager."""

from __future__ import annotations

import json
from pathlib import Path

import psutil
from executor_testkit import (
    bind_msg,
    fake_backend,
    release_msg,
    running_manager,
    service_pid,
    task_msg,
)

from flamepy.proto import backend_pb2


def gone(pid: int) -> bool:
    if not psutil.pid_exists(pid):
        return True
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


async def test_bind_invoke_release(tmp_path: Path) -> None:
    async with fake_backend() as backend, running_manager(backend, tmp_path) as manager:
        stream, _ = await backend.accept()
        stream.send(bind_msg("e1"))
        bound = await stream.recv("executor_bound")
        assert bound.executor_bound.executor_id == "e1"
        pid = service_pid(manager, "e1")

        stream.send(task_msg("e1", "t1", b"hello"))
        stream.send(task_msg("e1", "t2", b"none"))
        stream.send(task_msg("e1", "t3", b"empty"))
        stream.send(task_msg("e1", "t4", None))
        results = [(await stream.recv("task_result")).task_result for _ in range(4)]
        assert [r.task_id for r in results] == ["t1", "t2", "t3", "t4"]  # FIFO, one at a time
        assert all(r.return_code == 0 and not r.requeue for r in results)
        assert all(r.session_id == "s1" and r.executor_id == "e1" for r in results)
        assert results[0].HasField("output") and results[0].output == b"hello"
        assert not results[1].HasField("output")  # None stays None
        assert results[2].HasField("output") and results[2].output == b""  # b"" stays b""
        assert not results[0].HasField("message")

        stream.send(release_msg("e1"))
        released = await stream.recv("executor_released")
        assert released.executor_released.executor_id == "e1"
        assert not released.executor_released.HasField("message")
        assert gone(pid)
        assert "e1" not in manager.session.executors
        out = (tmp_path / "logs" / "e1.out").read_text()
        assert "OnSessionEnter s1" in out and "OnSessionLeave" in out


async def test_task_failure_keeps_executor(tmp_path: Path) -> None:
    async with fake_backend() as backend, running_manager(backend, tmp_path):
        stream, _ = await backend.accept()
        stream.send(bind_msg("e1"))
        await stream.recv("executor_bound")
        stream.send(task_msg("e1", "t1", b"fail"))
        stream.send(task_msg("e1", "t2", b"after"))
        failed = (await stream.recv("task_result")).task_result
        assert failed.return_code == 1
        assert failed.message == "task failed on purpose"
        assert not failed.requeue and not failed.HasField("output")
        ok = (await stream.recv("task_result")).task_result
        assert (ok.task_id, ok.return_code, ok.output) == ("t2", 0, b"after")
        stream.send(release_msg("e1"))
        await stream.recv("executor_released")


async def test_crash_mid_task(tmp_path: Path) -> None:
    async with fake_backend() as backend, running_manager(backend, tmp_path) as manager:
        stream, _ = await backend.accept()
        stream.send(bind_msg("e1"))
        await stream.recv("executor_bound")
        pid = service_pid(manager, "e1")
        stream.send(task_msg("e1", "t1", b"crash"))
        stream.send(task_msg("e1", "t2", b"queued-1"))
        stream.send(task_msg("e1", "t3", b"queued-2"))

        crashed = (await stream.recv("task_result")).task_result
        assert crashed.task_id == "t1"
        assert crashed.return_code != 0 and not crashed.requeue
        assert "service process exited with code -9 while running task t1 of session s1" in crashed.message
        assert "raw service crashing on task t1" in crashed.message  # the stderr tail
        requeued = [(await stream.recv("task_result")).task_result for _ in range(2)]
        assert [r.task_id for r in requeued] == ["t2", "t3"]
        assert all(r.requeue and r.return_code == -1 for r in requeued)
        released = (await stream.recv("executor_released")).executor_released
        assert released.executor_id == "e1"
        assert "exited with code -9" in released.message
        assert gone(pid)
        assert "task_results" in stream.kinds  # the three outcomes were ready at once: one batch


async def test_a_batch_of_tasks_runs_in_order(tmp_path: Path) -> None:
    async with fake_backend() as backend, running_manager(backend, tmp_path):
        stream, _ = await backend.accept()
        stream.send(bind_msg("e1"))
        await stream.recv("executor_bound")
        batch = [task_msg("e1", f"t{i}", f"in-{i}".encode()).invoke_task for i in range(5)]
        stream.send(backend_pb2.ManagerMessage(invoke_tasks=backend_pb2.InvokeTasks(tasks=batch)))
        results = [(await stream.recv("task_result")).task_result for _ in range(5)]
        assert [(r.task_id, r.output) for r in results] == [(f"t{i}", f"in-{i}".encode()) for i in range(5)]
        stream.send(release_msg("e1"))
        await stream.recv("executor_released")


async def test_environment_given_to_the_process(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    async with fake_backend() as backend, running_manager(backend, tmp_path / "work"):
        stream, _ = await backend.accept(frontend="http://frontend:8080", cache="grpc://cache:9090")
        stream.send(
            bind_msg(
                "e-env",
                arguments=["--id=${FLAME_EXECUTOR_ID}", "${NOT_SET}"],
                environments={"MY_VAR": "my-value"},
                working_directory=str(app_dir),
                gpu_ids=[1, 3],
            )
        )
        await stream.recv("executor_bound")
        stream.send(task_msg("e-env", "t1", b"env"))
        result = (await stream.recv("task_result")).task_result
        info = json.loads(result.output)
        env = info["env"]
        endpoint = env["FLAME_INSTANCE_ENDPOINT"]  # a bare absolute path, as Flame's executors give it
        assert endpoint.startswith("/") and endpoint.endswith(".sock") and "unix:" not in endpoint
        assert len(endpoint) < 100
        assert env["FLAMEPY_TASK_PIPE"] == endpoint + ".pipe"
        assert env["FLAME_ENDPOINT"] == "http://frontend:8080"
        assert env["FLAME_CACHE_ENDPOINT"] == "grpc://cache:9090"
        assert env["FLAME_LOG"] == "DEBUG"
        assert env["FLAME_EXECUTOR_ID"] == "e-env"
        assert env["CUDA_VISIBLE_DEVICES"] == "1,3"
        assert env["MY_VAR"] == "my-value"
        assert "PATH" in env  # inherited from the manager
        assert info["cwd"] == str(app_dir)
        assert info["argv"][2:] == ["--id=e-env", "${NOT_SET}"]
        stream.send(release_msg("e-env"))
        await stream.recv("executor_released")


async def test_defaults_without_cache_or_frontend(tmp_path: Path) -> None:
    async with fake_backend() as backend, running_manager(backend, tmp_path):
        stream, _ = await backend.accept(frontend="", cache="")
        stream.send(bind_msg("e1"))
        await stream.recv("executor_bound")
        stream.send(task_msg("e1", "t1", b"env"))
        info = json.loads((await stream.recv("task_result")).task_result.output)
        assert info["env"]["FLAME_ENDPOINT"] == backend.endpoint
        assert "CUDA_VISIBLE_DEVICES" not in info["env"] or info["env"]["CUDA_VISIBLE_DEVICES"] != ""
        assert info["cwd"] == str(tmp_path)
        stream.send(release_msg("e1"))
        await stream.recv("executor_released")
