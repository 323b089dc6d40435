"""The node stream: registration, heartbeats, stream breaks and reconnects."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import psutil
from executor_testkit import WAIT, bind_msg, fake_backend, running_manager, service_pid, task_msg

from flamepy.proto import types_pb2

GiB = 1024**3


async def test_register_reports_capacity(tmp_path: Path) -> None:
    env = {"FLAME_NODE_CPUS": "3", "FLAME_NODE_MEMORY": "4g", "FLAME_FAKE_GPUS": "2"}
    async with fake_backend() as backend, running_manager(backend, tmp_path, env=env):
        _, register = await backend.accept()
        node = register.node
        assert node.metadata.name == "node-1"
        assert node.spec.hostname
        assert node.status.state == types_pb2.Ready
        for res in (node.status.capacity, node.status.allocatable):
            assert (res.cpu, res.memory, res.gpu) == (3, 4 * GiB, 2)
        assert node.status.info.arch and node.status.info.os
        assert list(register.shims) == [types_pb2.Host]


async def test_register_detects_real_capacity(tmp_path: Path) -> None:
    async with fake_backend() as backend, running_manager(backend, tmp_path, env={}):
        _, register = await backend.accept()
        cap = register.node.status.capacity
        assert cap.cpu == psutil.cpu_count() and cap.memory == psutil.virtual_memory().total
        assert cap.gpu >= 0


async def test_heartbeats(tmp_path: Path) -> None:
    async with fake_backend() as backend, running_manager(backend, tmp_path, heartbeat_interval=0.05):
        stream, _ = await backend.accept()
        first = await stream.recv_heartbeat()
        second = await stream.recv_heartbeat()
        assert 0 < first.heartbeat.time <= second.heartbeat.time


async def test_stream_break_terminates_processes_and_reconnects(tmp_path: Path) -> None:
    async with fake_backend() as backend, running_manager(backend, tmp_path) as manager:
        stream, _ = await backend.accept()
        stream.send(bind_msg("e1"))
        await stream.recv("executor_bound")
        pid = service_pid(manager, "e1")
        stream.close()  # the session manager goes away
        stream2, _ = await backend.accept()  # the manager reconnected and registered again ...
        assert not psutil.pid_exists(pid)  # ... after terminating the service process
        assert manager.attach_count == 2
        stream2.send(task_msg("e1", "t1", b"x"))  # the old executor is gone on the node
        stale = (await stream2.recv("task_result")).task_result
        assert stale.requeue and "not on this node" in stale.message


async def test_reconnects_after_server_restart(tmp_path: Path) -> None:
    async with fake_backend() as backend, running_manager(backend, tmp_path) as manager:
        stream, _ = await backend.accept()
        stream.send(bind_msg("e1"))
        await stream.recv("executor_bound")
        pid = service_pid(manager, "e1")
        port = backend.port
        await backend.stop()  # connection refused for a while: backoff retries
        await _wait_gone(pid)  # the manager saw the break and terminated the group
        assert not psutil.pid_exists(pid)
        await backend.start(port)
        await backend.accept()
        assert manager.attach_count >= 2


async def _wait_gone(pid: int) -> None:
    """Bounded wait for a process to end (psutil's wait has a deadline)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        await asyncio.get_running_loop().run_in_executor(None, psutil.Process(pid).wait, WAIT)
