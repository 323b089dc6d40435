"""Test helpers: a fake session manager (a real grpc.aio Backend server on 127.0.0.1:0), message
builders for the Backend stream, and a running ExecutorManager as an async context manager."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import grpc

from executor.config import ManagerConfig
from executor.launcher import Launcher
from executor.manager import ExecutorManager
from flamepy.proto import backend_pb2, backend_pb2_grpc, shim_pb2, types_pb2

RAW_SERVICE = str(Path(__file__).with_name("raw_service.py"))
WAIT = 15.0  # the longest any single expected message may take


class NodeStream:
    """The session manager's end of one Attach stream."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[backend_pb2.NodeMessage | None] = asyncio.Queue()
        self.outbox: asyncio.Queue[backend_pb2.ManagerMessage | None] = asyncio.Queue()
        self.heartbeats = 0
        self.kinds: list[str] = []  # of every message as it came, batches not split

    def send(self, msg: backend_pb2.ManagerMessage) -> None:
        self.outbox.put_nowait(msg)

    def close(self) -> None:
        """End the stream from the session manager's side."""
        self.outbox.put_nowait(None)

    async def recv(self, kind: str | None = None, timeout: float = WAIT) -> backend_pb2.NodeMessage:
        """The next non-heartbeat message (of ``kind`` when given)."""
        while True:
            msg = await asyncio.wait_for(self.received.get(), timeout)
            assert msg is not None, "the node closed the stream"
            if msg.WhichOneof("msg") == "heartbeat":
                self.heartbeats += 1
                if kind == "heartbeat":
                    return msg
                continue
            if kind is not None:
                assert msg.WhichOneof("msg") == kind, f"expected {kind}, got {msg}"
            return msg

    async def recv_heartbeat(self, timeout: float = WAIT) -> backend_pb2.NodeMessage:
        while True:
            msg = await asyncio.wait_for(self.received.get(), timeout)
            assert msg is not None
            if msg.WhichOneof("msg") == "heartbeat":
                return msg


class FakeBackend(backend_pb2_grpc.BackendServicer):
    def __init__(self) -> None:
        self.streams: asyncio.Queue[NodeStream] = asyncio.Queue()
        self.server: grpc.aio.Server | None = None
        self.port = 0

    async def Attach(self, request_iterator, context):
        stream = NodeStream()
        self.streams.put_nowait(stream)

        async def pump() -> None:
            try:
                async for msg in request_iterator:
                    stream.kinds.append(msg.WhichOneof("msg"))
                    if msg.WhichOneof("msg") == "task_results":  # a batch: the tests read its elements
                        for outcome in msg.task_results.outcomes:
                            stream.received.put_nowait(backend_pb2.NodeMessage(task_result=outcome))
                    else:
                        stream.received.put_nowait(msg)
            finally:
                stream.received.put_nowait(None)

        reader = asyncio.ensure_future(pump())
        try:
            while True:
                out = await stream.outbox.get()
                if out is None:
                    return
                yield out
        finally:
            reader.cancel()

    async def start(self, port: int = 0) -> None:
        self.server = grpc.aio.server()
        backend_pb2_grpc.add_BackendServicer_to_server(self, self.server)
        self.port = self.server.add_insecure_port(f"127.0.0.1:{port}")
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(None)
            self.server = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def accept(
        self, frontend: str = "http://frontend:1", cache: str = "", timeout: float = WAIT
    ) -> tuple[NodeStream, backend_pb2.RegisterNode]:
        """Wait for the next node stream, check its register, answer registered."""
        stream = await asyncio.wait_for(self.streams.get(), timeout)
        first = await stream.recv("register")
        stream.send(
            backend_pb2.ManagerMessage(
                registered=backend_pb2.NodeRegistered(
                    node_name=first.register.node.metadata.name,
                    frontend_endpoint=frontend,
                    cache_endpoint=cache,
                )
            )
        )
        return stream, first.register


@contextlib.asynccontextmanager
async def fake_backend() -> AsyncIterator[FakeBackend]:
    backend = FakeBackend()
    await backend.start()
    try:
        yield backend
    finally:
        await backend.stop()


def make_config(backend: FakeBackend, work_dir: Path, **overrides) -> ManagerConfig:
    config = ManagerConfig(
        endpoint=backend.endpoint,
        name="node-1",
        work_dir=work_dir,
        log_level="DEBUG",
        bind_timeout=10.0,
        heartbeat_interval=5.0,
        terminate_grace=2.0,
        leave_timeout=3.0,
    )
    return replace(config, **overrides)


@contextlib.asynccontextmanager
async def running_manager(
    backend: FakeBackend,
    work_dir: Path,
    env: Mapping[str, str] | None = None,
    launcher: Launcher | None = None,
    **overrides,
) -> AsyncIterator[ExecutorManager]:
    manager = ExecutorManager(make_config(backend, work_dir, **overrides), launcher, env)
    stop = asyncio.Event()
    task = asyncio.ensure_future(manager.run(stop))
    try:
        yield manager
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT)


# -- message builders ------------------------------------------------------------------------


def bind_msg(
    executor_id: str,
    mode: str | None = "echo",
    *,
    command: str | None = None,
    arguments: Sequence[str] | None = None,
    environments: Mapping[str, str] | None = None,
    working_directory: str | None = None,
    session_id: str = "s1",
    gpu_ids: Sequence[int] = (),
    common_data: bytes | None = b"common",
) -> backend_pb2.ManagerMessage:
    spec = types_pb2.ApplicationSpec(shim=types_pb2.Host)
    if command is None and mode is not None:
        command = sys.executable
        arguments = [RAW_SERVICE, mode, *(arguments or [])]
    if command is not None:
        spec.command = command
    spec.arguments.extend(arguments or [])
    for key, value in (environments or {}).items():
        spec.environments.add(name=key, value=value)
    if working_directory is not None:
        spec.working_directory = working_directory
    session = shim_pb2.SessionContext(
        session_id=session_id, application=shim_pb2.ApplicationContext(name="raw-app")
    )
    if common_data is not None:
        session.common_data = common_data
    return backend_pb2.ManagerMessage(
        bind_executor=backend_pb2.BindExecutor(
            executor_id=executor_id,
            application="raw-app",
            spec=spec,
            session=session,
            resreq=types_pb2.ResourceRequirement(cpu=1, memory=1 << 20),
            gpu_ids=list(gpu_ids),
        )
    )


def task_msg(
    executor_id: str,
    task_id: str,
    data: bytes | None,
    session_id: str = "s1",
    attempt: int = 0,
    timeout_ms: int = 0,
) -> backend_pb2.ManagerMessage:
    ctx = shim_pb2.TaskContext(task_id=task_id, session_id=session_id)
    if data is not None:
        ctx.input = data
    invoke = backend_pb2.InvokeTask(executor_id=executor_id, task=ctx, attempt=attempt, timeout_ms=timeout_ms)
    return backend_pb2.ManagerMessage(invoke_task=invoke)


def cancel_msg(
    executor_id: str, task_id: str, session_id: str = "s1", attempt: int = 0, reason: str = "by test"
) -> backend_pb2.ManagerMessage:
    cancel = backend_pb2.CancelTask(
        executor_id=executor_id, session_id=session_id, task_id=task_id, attempt=attempt, reason=reason
    )
    return backend_pb2.ManagerMessage(cancel_task=cancel)


def release_msg(executor_id: str) -> backend_pb2.ManagerMessage:
    return backend_pb2.ManagerMessage(release_executor=backend_pb2.ReleaseExecutor(executor_id=executor_id))


def service_pid(manager: ExecutorManager, executor_id: str) -> int:
    assert manager.session is not None
    instance = manager.session.executors[executor_id].instance
    assert instance is not None
    return instance.process.pid
