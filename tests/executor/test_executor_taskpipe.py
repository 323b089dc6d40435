"""The task pipe (flamepy.taskpipe): a flamepy service gets tasks over it, an independent service
over gRPC; results, failures and a crash mid-task read the same either way."""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
from pathlib import Path

import pytest
from executor_testkit import bind_msg, fake_backend, release_msg, running_manager, task_msg

from executor.pipe import TaskPipe
from flamepy import taskpipe
from flamepy._taskpipe_server import PipeServer

ROOT = Path(__file__).resolve().parents[2]
FAULTY = str(ROOT / "tests" / "e2e" / "faulty_service.py")


def _instance(manager, executor_id: str):
    instance = manager.session.executors[executor_id].instance
    assert instance is not None
    return instance


async def test_flamepy_service_runs_tasks_over_the_pipe(tmp_path: Path) -> None:
    async with fake_backend() as backend, running_manager(backend, tmp_path) as manager:
        stream, _ = await backend.accept()
        stream.send(bind_msg("e1", command=sys.executable, arguments=[FAULTY]))
        await stream.recv("executor_bound")
        assert _instance(manager, "e1").pipe is not None
        stream.send(task_msg("e1", "t1", b"hello"))
        stream.send(task_msg("e1", "t2", b"raise"))
        stream.send(task_msg("e1", "t3", None))
        stream.send(task_msg("e1", "t4", b""))
        r = [(await stream.recv("task_result")).task_result for _ in range(4)]
        assert [x.task_id for x in r] == ["t1", "t2", "t3", "t4"]
        assert (r[0].return_code, r[0].output) == (0, b"hello")
        assert r[1].return_code == 1 and r[1].message == "ValueError: bad input for this service"
        assert r[2].return_code == 0 and not r[2].HasField("output")  # None stays None
        assert r[3].HasField("output") and r[3].output == b""
        stream.send(release_msg("e1"))
        await stream.recv("executor_released")


async def test_crash_mid_task_over_the_pipe(tmp_path: Path) -> None:
    async with fake_backend() as backend, running_manager(backend, tmp_path) as manager:
        stream, _ = await backend.accept()
        stream.send(bind_msg("e1", command=sys.executable, arguments=[FAULTY]))
        await stream.recv("executor_bound")
        instance = _instance(manager, "e1")
        assert instance.pipe is not None
        pipe_file = Path(str(instance.socket_path) + taskpipe.SUFFIX)
        stream.send(task_msg("e1", "t1", b"crash"))
        stream.send(task_msg("e1", "t2", b"queued"))
        crashed = (await stream.recv("task_result")).task_result
        assert crashed.task_id == "t1" and crashed.return_code != 0 and not crashed.requeue
        assert "service process exited with code -9 while running task t1 of session s1" in crashed.message
        requeued = (await stream.recv("task_result")).task_result
        assert (requeued.task_id, requeued.requeue) == ("t2", True)
        released = (await stream.recv("executor_released")).executor_released
        assert "exited with code -9" in released.message
        assert not pipe_file.exists()  # cleaned up with the socket


async def test_independent_service_uses_grpc(tmp_path: Path) -> None:
    async with fake_backend() as backend, running_manager(backend, tmp_path) as manager:
        stream, _ = await backend.accept()
        stream.send(bind_msg("e1"))  # the raw flame.v1 service: no pipe
        await stream.recv("executor_bound")
        assert _instance(manager, "e1").pipe is None
        stream.send(task_msg("e1", "t1", b"hi"))
        result = (await stream.recv("task_result")).task_result
        assert (result.return_code, result.output) == (0, b"hi")
        stream.send(release_msg("e1"))
        await stream.recv("executor_released")


def _pipe_path(tmp_path: Path) -> str:
    return str(tmp_path / "t.pipe")


async def test_pipe_round_trip_and_malformed_frames(tmp_path: Path) -> None:
    from flamepy.proto import shim_pb2, types_pb2

    def handle(payload: bytes) -> bytes:
        task = shim_pb2.TaskContext.FromString(payload)
        return types_pb2.TaskResult(return_code=0, output=task.input[::-1]).SerializeToString()

    path = Path(_pipe_path(tmp_path))
    server = PipeServer(path, handle).start()
    try:
        from executor.events import TaskRequest

        pipe = await TaskPipe.connect(path)
        assert pipe is not None
        for i in range(3):
            task = TaskRequest("e1", str(i), "s1", f"in-{i}".encode())
            assert await pipe.invoke(task) == (0, f"{i}-ni".encode(), None)
        big = b"x" * (3 << 20)
        assert (await pipe.invoke(TaskRequest("e1", "big", "s1", big)))[1] == big
        await pipe.close()

        # garbage that is not a TaskContext: the server drops the connection and keeps serving
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(taskpipe.frame(b"\xff\xff\xff"))
        assert await reader.read() == b""
        writer.close()
        again = await TaskPipe.connect(path)
        assert again is not None
        assert (await again.invoke(TaskRequest("e1", "x", "s1", b"ab")))[1] == b"ba"
        await again.close()
    finally:
        server.close()
    assert not path.exists()
    assert await TaskPipe.connect(path) is None  # no pipe: the executor uses gRPC


async def test_pipe_error_when_the_peer_goes_away(tmp_path: Path) -> None:
    from executor.events import TaskRequest

    path = tmp_path / "dead.pipe"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def accept_and_hang_up() -> None:
        conn, _ = listener.accept()
        conn.recv(64)
        conn.close()

    t = threading.Thread(target=accept_and_hang_up)
    t.start()
    pipe = await TaskPipe.connect(path)
    assert pipe is not None
    with pytest.raises(taskpipe.PipeError, match="broken"):
        await pipe.invoke(TaskRequest("e1", "t", "s1", b"x"))
    t.join(5)
    listener.close()
    with pytest.raises(taskpipe.PipeError, match="out of bounds"):
        taskpipe.frame_length(b"\xff\xff\xff\xff")
