"""An in-process fake :class:`~executor.launcher.Launcher` for unit tests.

A :class:`FakeProcess` serves ``flame.v1.Instance`` from a grpc.aio server inside the test's own
event loop, on ``unix://`` + ``FLAME_INSTANCE_ENDPOINT`` as Flame's runtimes bind it (the value is
a bare path; a value that cannot be bound makes the fake exit with code 1 and a line on its stderr,
as a real service would); "exiting" stops that server and resolves :meth:`FakeProcess.wait`.
Behaviour is chosen per launch with :class:`FakeBehaviour`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import grpc

from executor.launcher import LaunchError, LaunchSpec
from flamepy.proto import shim_pb2, shim_pb2_grpc, types_pb2

TaskHandler = Callable[["FakeProcess", bytes | None], Awaitable[tuple[int, bytes | None, str | None]]]


async def echo(_proc: FakeProcess, data: bytes | None) -> tuple[int, bytes | None, str | None]:
    return 0, data, None


@dataclass
class FakeBehaviour:
    handler: TaskHandler = echo
    enter_code: int = 0
    enter_message: str | None = None
    exit_at_start: int | None = None  # exit immediately with this code
    serve: bool = True  # False: never opens its socket
    ignore_sigterm: bool = False


@dataclass
class _Calls:
    entered: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    left: int = 0


class _Servicer(shim_pb2_grpc.InstanceServicer):
    def __init__(self, proc: FakeProcess) -> None:
        self._proc = proc

    async def OnSessionEnter(self, request: shim_pb2.SessionContext, context) -> types_pb2.Result:
        self._proc.calls.entered.append(request.session_id)
        b = self._proc.behaviour
        result = types_pb2.Result(return_code=b.enter_code)
        if b.enter_message is not None:
            result.message = b.enter_message
        return result

    async def OnTaskInvoke(self, request: shim_pb2.TaskContext, context) -> types_pb2.TaskResult:
        self._proc.calls.tasks.append(request.task_id)
        data = request.input if request.HasField("input") else None
        code, output, message = await self._proc.behaviour.handler(self._proc, data)
        result = types_pb2.TaskResult(return_code=code)
        if output is not None:
            result.output = output
        if message is not None:
            result.message = message
        return result

    async def OnSessionLeave(self, request: types_pb2.EmptyRequest, context) -> types_pb2.Result:
        self._proc.calls.left += 1
        return types_pb2.Result(return_code=0)


_PIDS = itertools.count(4_000_000)


class FakeProcess:
    def __init__(self, spec: LaunchSpec, behaviour: FakeBehaviour) -> None:
        self.spec = spec
        self.behaviour = behaviour
        self.calls = _Calls()
        self._pid = next(_PIDS)
        self._returncode: int | None = None
        self._exited = asyncio.Event()
        self._server: grpc.aio.Server | None = None
        self._stopping: asyncio.Future[None] | None = None

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def returncode(self) -> int | None:
        return self._returncode

    async def begin(self) -> None:
        if self.behaviour.exit_at_start is not None:
            self._returncode = self.behaviour.exit_at_start
            self._exited.set()
            return
        if self.behaviour.serve:
            server = grpc.aio.server()
            shim_pb2_grpc.add_InstanceServicer_to_server(_Servicer(self), server)
            address = "unix://" + self.spec.env.get("FLAME_INSTANCE_ENDPOINT", "")
            try:
                server.add_insecure_port(address)
            except RuntimeError as exc:
                self._fail_to_start(f"cannot listen on {address}: {exc}")
                return
            self._server = server
            await server.start()

    def _fail_to_start(self, why: str) -> None:
        self.spec.stderr_path.parent.mkdir(parents=True, exist_ok=True)
        with self.spec.stderr_path.open("a") as err:
            err.write(why + "\n")
        self._returncode = 1
        self._exited.set()

    def crash(self, code: int = -9) -> None:
        """Die now, as if SIGKILLed (in-flight RPCs are cut)."""
        if self._returncode is None:
            self._returncode = code
            self._exited.set()
            if self._server is not None:
                self._stopping = asyncio.ensure_future(self._server.stop(None))

    async def wait(self) -> int:
        await self._exited.wait()
        assert self._returncode is not None
        return self._returncode

    async def terminate(self, grace: float) -> int:
        if self._returncode is None and self.behaviour.ignore_sigterm:
            try:
                await asyncio.wait_for(self._exited.wait(), grace)
            except TimeoutError:
                self.crash(-9)
        self.crash(-15)
        if self._server is not None:
            await self._server.stop(None)
        return await self.wait()


class FakeLauncher:
    """Starts :class:`FakeProcess` es; a command named ``missing`` fails to start."""

    def __init__(self, behaviour: FakeBehaviour | None = None) -> None:
        self.behaviour = behaviour or FakeBehaviour()
        self.started: list[FakeProcess] = []

    async def start(self, spec: LaunchSpec) -> FakeProcess:
        if spec.command == "missing":
            raise LaunchError(f"cannot start {spec.command!r}: No such file or directory")
        proc = FakeProcess(spec, self.behaviour)
        self.started.append(proc)
        await proc.begin()
        return proc
