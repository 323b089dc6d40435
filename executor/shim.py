"""The host shim: turn a bind request into a running, entered service process and drive it.

:class:`HostShim.bind` builds the process environment and command line, starts the process through
a :class:`~executor.launcher.Launcher`, waits for its Unix socket (racing the process's exit, with
a deadline) and calls ``OnSessionEnter``. The resulting :class:`ServiceInstance` runs tasks,
leaves the session and terminates the process group. Runs on the manager's asyncio loop; every wait
is an ``asyncio.wait`` on the RPC versus the process exit, never polling.

The process gets what Flame's own executors give it (spec "The service instance"):
``FLAME_INSTANCE_ENDPOINT`` is the bare filesystem path of its Unix socket (Flame's runtimes, and
flamepy 0.6.0 from PyPI, bind ``unix://<value>`` themselves); ``command`` and ``arguments`` are
``${VAR}``-expanded against its environment (the manager's, the application's ``environments``,
then the ``FLAME_*`` variables). Its working directory is the application's ``working_directory``
(which must be absolute), so relative arguments such as ``service.py`` resolve there. An
application registered without one runs in the executor manager's work directory (``--work-dir``):
the registering client's directory is unknown here, so relative arguments resolve against that
directory, and a process that then fails to start gets a bind failure saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import string
import tempfile
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from executor import logtail
from executor.config import NODE_TOKEN_ENV
from executor.events import BindRequest, SessionContext, TaskOutcome, TaskRequest
from executor.instance import InstanceCallError, InstanceClient
from executor.launcher import Launcher, LaunchError, LaunchSpec, ServiceProcess
from executor.pipe import TaskPipe
from executor.tasklogs import index_root
from flamepy.apps.joblog import INDEX_ENV
from flamepy.common import taskpipe
from flamepy.common.taskpipe import MAX_SOCKET_PATH

log = logging.getLogger(__name__)

T = TypeVar("T")

INSTANCE_ENDPOINT_ENV = "FLAME_INSTANCE_ENDPOINT"


@dataclass(frozen=True)
class ShimSettings:
    work_dir: Path
    frontend_endpoint: str
    cache_endpoint: str = ""
    log_level: str = "INFO"
    bind_timeout: float = 30.0  # for the socket to appear, and again for OnSessionEnter
    leave_timeout: float = 5.0
    terminate_grace: float = 10.0  # SIGTERM → SIGKILL (--kill-grace)
    crash_grace: float = 2.0  # after a transport error, how long to wait for the exit code
    # the node token, given to services as FLAME_TOKEN so they can use the SDK and the cache
    # (whoever may submit code runs it as this node's user anyway: docs/security.md)
    token: str | None = field(default=None, repr=False)
    ca_file: str = ""  # given to services as FLAME_CA_FILE (https:// endpoints) when set
    node_address: str = ""  # given to services as FLAME_NODE_ADDRESS (executor.address)


class BindError(Exception):
    """The executor could not be bound; ``str()`` is the message for bind_failed."""


class ServiceCrashed(Exception):
    """The service process died (or stopped answering) while running a task."""

    def __init__(self, message: str, return_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.return_code = return_code


class _ProcessExited(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class HostShim:
    def __init__(self, settings: ShimSettings, launcher: Launcher) -> None:
        self.settings = settings
        self._launcher = launcher
        self._fallback_dir: Path | None = None

    def socket_path(self, executor_id: str) -> Path:
        name = hashlib.sha1(executor_id.encode()).hexdigest()[:16] + ".sock"
        path = self.settings.work_dir / "s" / name
        if len(str(path)) >= MAX_SOCKET_PATH:
            if self._fallback_dir is None:
                self._fallback_dir = Path(tempfile.mkdtemp(prefix="flm-"))
            path = self._fallback_dir / name
        return path

    def environment(self, req: BindRequest, socket_path: Path) -> dict[str, str]:
        s = self.settings
        env = dict(os.environ)
        env.update(req.spec.environments or {})
        env[INSTANCE_ENDPOINT_ENV] = str(socket_path)  # a bare path: the service adds unix://
        env[taskpipe.ENV] = str(socket_path) + taskpipe.SUFFIX
        env["FLAME_ENDPOINT"] = s.frontend_endpoint
        if s.cache_endpoint:
            env["FLAME_CACHE_ENDPOINT"] = s.cache_endpoint
        env["FLAME_LOG"] = s.log_level
        if s.ca_file:
            env["FLAME_CA_FILE"] = s.ca_file
        env["FLAME_EXECUTOR_ID"] = req.executor_id
        if s.node_address:
            env["FLAME_NODE_ADDRESS"] = s.node_address
        env[INDEX_ENV] = str(index_root(s.work_dir))  # where job runners link their tasks' logs
        env.pop(NODE_TOKEN_ENV, None)
        if s.token:
            env["FLAME_TOKEN"] = s.token
        if req.gpu_ids:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in req.gpu_ids)
        return env

    def launch_spec(self, req: BindRequest, env: dict[str, str]) -> LaunchSpec:
        command = req.spec.command
        if not command or not command.strip():
            raise BindError(f"application {req.application!r} has no command: nothing to start")

        def expand(text: str) -> str:
            return string.Template(text).safe_substitute(env)

        logs = self.settings.work_dir / "logs"
        safe_id = req.executor_id.replace(os.sep, "_")
        return LaunchSpec(
            command=expand(command),
            arguments=tuple(expand(a) for a in req.spec.arguments or ()),
            env=env,
            cwd=self.working_directory(req),
            stdout_path=logs / f"{safe_id}.out",
            stderr_path=logs / f"{safe_id}.err",
        )

    def working_directory(self, req: BindRequest) -> Path:
        """The application's ``working_directory``, or the executor's work directory without one."""
        given = req.spec.working_directory
        if not given:
            return self.settings.work_dir
        if not os.path.isabs(given):
            raise BindError(f"application {req.application!r}: working_directory {given!r} is not absolute")
        return Path(given)

    async def bind(self, req: BindRequest) -> ServiceInstance:
        """Start, wait for the socket, OnSessionEnter. Raises :class:`BindError`."""
        sock = self.socket_path(req.executor_id)
        sock.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        sock.unlink(missing_ok=True)
        Path(str(sock) + taskpipe.SUFFIX).unlink(missing_ok=True)  # never mistake a stale pipe for this one
        spec = self.launch_spec(req, self.environment(req, sock))
        spec.stderr_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        offset = spec.stderr_path.stat().st_size if spec.stderr_path.exists() else 0
        try:
            process = await self._launcher.start(spec)
        except LaunchError as exc:
            raise BindError(f"executor {req.executor_id}: {exc}") from exc
        instance = ServiceInstance(req.executor_id, process, sock, spec.stderr_path, offset, self)
        try:
            await instance.wait_serving()
            await instance.enter(req.session)
            await instance.open_pipe()
        except BaseException as exc:
            await instance.close()
            hint = _relative_arguments_hint(req, spec)
            if isinstance(exc, BindError) and hint:
                raise BindError(f"{exc}\n{hint}") from None
            raise
        return instance


def _relative_arguments_hint(req: BindRequest, spec: LaunchSpec) -> str | None:
    """Why relative arguments may have failed: the application has no working_directory and they
    name no file in the directory the process ran in (the executor's work directory)."""
    if req.spec.working_directory:
        return None
    missing = [a for a in spec.arguments if _looks_like_relative_path(a) and not (spec.cwd / a).exists()]
    if not missing:
        return None
    return (
        f"(application {req.application!r} has no working_directory, so its process ran in the "
        f"executor's work directory {str(spec.cwd)!r}, where the relative argument(s) "
        f"{', '.join(map(repr, missing))} name no file; register it with an absolute working_directory)"
    )


def _looks_like_relative_path(arg: str) -> bool:
    """``service.py``, ``src/main``: not an option, not absolute, with a directory or a suffix."""
    return not arg.startswith("-") and not os.path.isabs(arg) and (os.sep in arg or bool(Path(arg).suffix))


class ServiceInstance:
    """One started service process and the Instance client talking to it."""

    def __init__(
        self,
        executor_id: str,
        process: ServiceProcess,
        socket_path: Path,
        stderr_path: Path,
        stderr_offset: int,
        shim: HostShim,
    ) -> None:
        self.executor_id = executor_id
        self.process = process
        self.socket_path = socket_path
        self.stderr_path = stderr_path
        self._stderr_offset = stderr_offset
        self._settings = shim.settings
        self.client = InstanceClient(f"unix://{socket_path}")
        self.pipe: TaskPipe | None = None
        self.exited: asyncio.Future[int] = asyncio.ensure_future(process.wait())
        self._closing: asyncio.Future[None] | None = None

    def with_stderr(self, message: str) -> str:
        return logtail.with_tail(message, self.stderr_path, self._stderr_offset)

    async def _race(self, call: Awaitable[T], timeout: float | None = None) -> T:
        """``call``'s result, or :class:`_ProcessExited` if the process exits first."""
        rpc = asyncio.ensure_future(call)
        racers: list[asyncio.Future[Any]] = [rpc, self.exited]
        try:
            await asyncio.wait(racers, timeout=timeout, return_when="FIRST_COMPLETED")
        finally:
            if not rpc.done():
                rpc.cancel()
                with contextlib.suppress(asyncio.CancelledError, InstanceCallError):
                    await rpc
        if rpc.done() and not rpc.cancelled():
            return rpc.result()
        if self.exited.done():
            raise _ProcessExited(self.exited.result())
        raise TimeoutError

    async def exit_code_soon(self) -> int | None:
        """The exit code if the process ends within the crash grace, else None."""
        try:
            return await asyncio.wait_for(asyncio.shield(self.exited), self._settings.crash_grace)
        except TimeoutError:
            return None

    async def wait_serving(self) -> None:
        timeout = self._settings.bind_timeout
        endpoint = self.client.endpoint
        try:
            await self._race(self.client.wait_ready(), timeout)
        except _ProcessExited as exc:
            raise BindError(
                self.with_stderr(f"service process exited with code {exc.code} before serving {endpoint}")
            ) from None
        except TimeoutError:
            raise BindError(
                self.with_stderr(f"service process did not serve {endpoint} within {timeout:g}s")
            ) from None

    async def enter(self, session: SessionContext) -> None:
        timeout = self._settings.bind_timeout
        try:
            code, message = await self._race(self.client.enter(session, timeout), timeout + 1)
        except _ProcessExited as exc:
            raise BindError(
                self.with_stderr(f"service process exited with code {exc.code} during OnSessionEnter")
            ) from None
        except (InstanceCallError, TimeoutError) as exc:
            raise BindError(self.with_stderr(f"OnSessionEnter failed: {exc or 'timeout'}")) from None
        if code != 0:
            raise BindError(
                self.with_stderr(f"OnSessionEnter returned code {code}: {message or '(no message)'}")
            )

    async def open_pipe(self) -> None:
        """Use the service's task pipe for tasks when it opened one (flamepy services do)."""
        pipe = await TaskPipe.connect(Path(str(self.socket_path) + taskpipe.SUFFIX))
        if pipe is not None:
            # a pending call ends when the process does, even if a forked child holds the socket
            self.exited.add_done_callback(lambda _exit: pipe.abort())
            log.debug("executor %s: tasks go over the task pipe", self.executor_id)
        self.pipe = pipe

    async def run_task(self, task: TaskRequest) -> TaskOutcome:
        """OnTaskInvoke over gRPC; raises :class:`ServiceCrashed` when the process dies meanwhile.
        (Over the task pipe the executor pipelines tasks itself: :meth:`outcome`, :meth:`crashed`.)"""
        try:
            code, output, message = await self._race(self.client.invoke(task))
        except _ProcessExited as exc:
            raise self.crashed(task, exc.code, "the process exited") from None
        except InstanceCallError as exc:
            if not exc.is_transport:  # the service answered with an error status: only this task
                return TaskOutcome(
                    task.executor_id,
                    task.session_id,
                    task.task_id,
                    -1,
                    message=str(exc),
                    attempt=task.attempt,
                )
            exit_code = await self.exit_code_soon()
            raise self.crashed(task, exit_code, f"{exc.code.name}: {exc.details}") from exc
        return self.outcome(task, code, output, message)

    @staticmethod
    def outcome(task: TaskRequest, code: int, output: bytes | None, message: str | None) -> TaskOutcome:
        if code == 0:
            return TaskOutcome(
                task.executor_id, task.session_id, task.task_id, 0, output=output, attempt=task.attempt
            )
        text = message or f"task failed with return code {code} (no message)"
        return TaskOutcome(
            task.executor_id, task.session_id, task.task_id, code, message=text, attempt=task.attempt
        )

    def crashed(self, task: TaskRequest, exit_code: int | None, details: str) -> ServiceCrashed:
        what = (
            f"service process exited with code {exit_code}"
            if exit_code is not None
            else "service process stopped answering"
        )
        message = self.with_stderr(
            f"{what} while running task {task.task_id} of session {task.session_id}: {details}"
        )
        return ServiceCrashed(message, exit_code if exit_code else -1)

    async def leave(self) -> None:
        """OnSessionLeave, bounded by the leave timeout; failures are logged, not raised."""
        timeout = self._settings.leave_timeout
        try:
            code, message = await self._race(self.client.leave(timeout), timeout + 1)
        except _ProcessExited as exc:
            log.warning("executor %s: process exited (%d) during OnSessionLeave", self.executor_id, exc.code)
        except (InstanceCallError, TimeoutError) as exc:
            log.warning("executor %s: OnSessionLeave failed: %s", self.executor_id, exc or "timeout")
        else:
            if code != 0:
                log.warning("executor %s: OnSessionLeave returned %d: %s", self.executor_id, code, message)

    async def close(self) -> None:
        """Terminate the process group, close the channel, remove the socket (idempotent; a caller
        that is cancelled meanwhile does not cut it short, and a second caller waits for it)."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        try:
            code = await self.process.terminate(self._settings.terminate_grace)
            log.info("executor %s: service process %d ended (%d)", self.executor_id, self.process.pid, code)
        finally:
            if self.pipe is not None:
                await self.pipe.close()
            await self.client.close()
            self.socket_path.unlink(missing_ok=True)
            Path(str(self.socket_path) + taskpipe.SUFFIX).unlink(missing_ok=True)
