"""The task pipe (flamepy.taskpipe): a flamepy service gets tasks over it, an independent service
over gRPC; results, failures and a crash mid-task read the same either way."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from executor_testkit import bind_msg, fake_backend, release_msg, running_manager, task_msg

from executor.pipe import TaskPipe
from flamepy._taskpipe_server import PipeServer
from flamepy.common import taskpipe

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


async def test_crash_after_tasks_that_finished_in_the_same_burst(tmp_path: Path) -> None:
    """Tasks go to the service ahead of time; the crash is charged to the task that caused it,
    the ones before it keep their results and the ones after it run again."""
    async with fake_backend() as backend, running_manager(backend, tmp_path):
        stream, _ = await backend.accept()
        stream.send(bind_msg("e1", command=sys.executable, arguments=[FAULTY]))
        await stream.recv("executor_bound")
        burst = [("t1", b"a"), ("t2", b"b"), ("t3", b"crash"), ("t4", b"c"), ("t5", b"d")]
        for tid, data in burst:
            stream.send(task_msg("e1", tid, data))
        r = [(await stream.recv("task_result")).task_result for _ in burst]
        assert [(x.task_id, x.return_code, x.output) for x in r[:2]] == [("t1", 0, b"a"), ("t2", 0, b"b")]
        assert r[2].task_id == "t3" and r[2].return_code != 0 and not r[2].requeue
        assert "while running task t3 of session s1" in r[2].message
        assert [(x.task_id, x.requeue) for x in r[3:]] == [("t4", True), ("t5", True)]
        await stream.recv("executor_released")


async def test_release_with_tasks_at_the_service_loses_none(tmp_path: Path) -> None:
    async with fake_backend() as backend, running_manager(backend, tmp_path):
        stream, _ = await backend.accept()
        stream.send(bind_msg("e1", command=sys.executable, arguments=[FAULTY]))
        await stream.recv("executor_bound")
        tids = [f"t{i}" for i in range(20)]
        stream.send(task_msg("e1", tids[0], b"slow"))
        for tid in tids[1:]:
            stream.send(task_msg("e1", tid, tid.encode()))
        stream.send(release_msg("e1"))
        outcomes = {}
        while True:
            msg = await stream.recv()
            if msg.WhichOneof("msg") == "executor_released":
                break
            r = msg.task_result
            outcomes[r.task_id] = "requeued" if r.requeue else (r.return_code, r.output)
        assert sorted(outcomes) == sorted(tids)  # every task answered before the release
        assert outcomes["t0"] == (0, b"slow")  # it was running: it finished
        done = [t for t in tids[1:] if outcomes[t] != "requeued"]
        assert all(outcomes[t] == (0, t.encode()) for t in done)


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


class _Collector:
    """Replies in the groups the pipe delivered them."""

    def __init__(self, pipe: TaskPipe) -> None:
        self.groups: list[list[tuple]] = []
        self._more = asyncio.Event()
        pipe.on_replies = self._on_replies

    def _on_replies(self, replies: list) -> None:
        self.groups.append(replies)
        self._more.set()

    @property
    def replies(self) -> list[tuple]:
        return [r for g in self.groups for r in g]

    async def wait_for(self, n: int) -> list[tuple]:
        async with asyncio.timeout(20):
            while len(self.replies) < n:
                self._more.clear()
                await self._more.wait()
        return self.replies


def _reverse(payload: bytes) -> bytes:
    from flamepy.proto import shim_pb2, types_pb2

    task = shim_pb2.TaskContext.FromString(payload)
    return types_pb2.TaskResult(return_code=0, output=task.input[::-1]).SerializeToString()


def _task(tid: str, data: bytes):
    from executor.events import TaskRequest

    return TaskRequest("e1", tid, "s1", data)


async def test_pipe_round_trip_and_malformed_frames(tmp_path: Path) -> None:
    path = tmp_path / "t.pipe"
    server = PipeServer(path, _reverse).start()
    try:
        pipe = await TaskPipe.connect(path)
        assert pipe is not None
        got = _Collector(pipe)
        pipe.send([_task(str(i), f"in-{i}".encode()) for i in range(3)])
        assert await got.wait_for(3) == [(0, f"{i}-ni".encode(), None) for i in range(3)]
        big = b"x" * (3 << 20)
        pipe.send([_task("big", big)])
        assert (await got.wait_for(4))[3][1] == big
        await pipe.close()
        assert pipe.broken.done()

        # garbage that is not a TaskContext: the server drops the connection and keeps serving
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(taskpipe.frame(b"\xff\xff\xff"))
        assert await reader.read() == b""
        writer.close()
        again = await TaskPipe.connect(path)
        assert again is not None
        got = _Collector(again)
        again.send([_task("x", b"ab")])
        assert await got.wait_for(1) == [(0, b"ba", None)]
        await again.close()
    finally:
        server.close()
    assert not path.exists()
    assert await TaskPipe.connect(path) is None  # no pipe: the executor uses gRPC


@contextlib.asynccontextmanager
async def _served(path: Path, handle) -> AsyncIterator[tuple[TaskPipe, _Collector]]:
    """A PipeServer answering with ``handle``, and a connected TaskPipe with its reply collector."""
    server = PipeServer(path, handle).start()
    try:
        pipe = await TaskPipe.connect(path)
        assert pipe is not None
        yield pipe, _Collector(pipe)
        await pipe.close()
    finally:
        server.close()


async def test_pipe_answers_a_burst_in_order(tmp_path: Path) -> None:
    async with _served(tmp_path / "t.pipe", _reverse) as (pipe, got):
        pipe.send([_task(str(i), str(i).encode()) for i in range(50)])  # one write
        replies = await got.wait_for(50)
        assert [r[1] for r in replies] == [str(i).encode()[::-1] for i in range(50)]


async def test_a_long_task_does_not_hold_back_earlier_replies(tmp_path: Path) -> None:
    release_slow = threading.Event()

    def handle(payload: bytes) -> bytes:
        from flamepy.proto import shim_pb2

        if shim_pb2.TaskContext.FromString(payload).input == b"slow":
            assert release_slow.wait(30)
        return _reverse(payload)

    try:
        async with _served(tmp_path / "t.pipe", handle) as (pipe, got):
            pipe.send([_task("1", b"fast"), _task("2", b"slow")])  # "slow" waits when "fast" ends
            # "fast" is answered while "slow" still runs: each result is written when it is ready
            assert await got.wait_for(1) == [(0, b"tsaf", None)]
            release_slow.set()
            assert (await got.wait_for(2))[1] == (0, b"wols", None)
    finally:
        release_slow.set()


async def test_pipe_breaks_when_the_peer_goes_away_or_sends_garbage(tmp_path: Path) -> None:
    path = tmp_path / "dead.pipe"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(2)

    def serve(reply: bytes) -> None:
        conn, _ = listener.accept()
        conn.recv(64)
        conn.sendall(reply)
        conn.close()

    for reply, reason in (
        (b"", "closed by the service"),
        (taskpipe.frame(b"\xff\xff\xff"), "malformed TaskResult"),
        (b"\xff\xff\xff\xff", "out of bounds"),
    ):
        t = threading.Thread(target=serve, args=(reply,))
        t.start()
        pipe = await TaskPipe.connect(path)
        assert pipe is not None
        got = _Collector(pipe)
        pipe.send([_task("t", b"x")])
        async with asyncio.timeout(20):
            assert reason in await pipe.broken
        assert got.replies == []
        t.join(5)
        await pipe.close()
    listener.close()
    with pytest.raises(taskpipe.PipeError, match="out of bounds"):
        taskpipe.frame_length(b"\xff\xff\xff\xff")
