"""The service runtime (``flamepy.core.service``, re-exported by ``flamepy.service`` and ``flamepy``):
host a :class:`FlameService` on ``flame.v1.Instance`` for an executor.

The executor starts the service process with ``FLAME_INSTANCE_ENDPOINT``: the bare path of the Unix
socket to serve on, as Flame's executors pass it (``unix:///path`` and ``unix:path`` are accepted
too). It calls OnSessionEnter once, OnTaskInvoke per task and OnSessionLeave at the end, one call
at a time. Concurrency model: a sync gRPC server with one worker thread; the main thread of
:func:`run` waits for OnSessionLeave, then stops the server and returns. When the executor passes
``FLAMEPY_TASK_PIPE`` (our executor does), tasks may also arrive over that faster same-host pipe
(:mod:`flamepy.common.taskpipe`), served by one more thread; a lock keeps every call into the
service one at a time whichever way it came.
"""

from __future__ import annotations

import abc
import concurrent.futures
import logging
import os
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from flamepy.common.mainwait import wait_in_main_thread
from flamepy.errors import FlameError, InternalError, InvalidConfigError
from flamepy.proto import shim_pb2_grpc
from flamepy.types import ApplicationContext

__all__ = [
    "FLAME_INSTANCE_ENDPOINT",
    "ApplicationContext",
    "FlameInstanceServer",
    "FlameInstanceServicer",
    "FlameService",
    "SessionContext",
    "TaskContext",
    "TraceFn",
    "run",
    "socket_path",
]

log = logging.getLogger(__name__)

FLAME_INSTANCE_ENDPOINT = "FLAME_INSTANCE_ENDPOINT"  # the environment variable's name
ENDPOINT_ENV = FLAME_INSTANCE_ENDPOINT
LOG_ENV = "FLAME_LOG"
STOP_GRACE_S = 2.0


@dataclass
class SessionContext:
    """The session a service instance is bound to: its id, its application (an
    :class:`ApplicationContext`; ``str()`` of it is the name) and :meth:`common_data`."""

    _common_data: bytes | None
    session_id: str
    application: ApplicationContext = field(default_factory=lambda: ApplicationContext(""))

    @property
    def application_context(self) -> ApplicationContext:
        """The same as :attr:`application` (the name this SDK used before)."""
        return self.application

    def common_data(self) -> bytes | None:
        return self._common_data


class TraceFn:
    """A context manager that logs entering and leaving ``name`` at debug level."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> TraceFn:
        log.debug("%s: enter", self.name)
        return self

    def __exit__(self, *exc_info: object) -> None:
        log.debug("%s: leave", self.name)


@dataclass(frozen=True)
class TaskContext:
    """One task given to :meth:`FlameService.on_task_invoke`."""

    task_id: str
    session_id: str
    input: bytes | None = None


class FlameService(abc.ABC):
    """Subclass and pass an instance to :func:`run`."""

    @abc.abstractmethod
    def on_session_enter(self, context: SessionContext) -> None:
        """Called once, before any task of the session."""

    @abc.abstractmethod
    def on_task_invoke(self, context: TaskContext) -> bytes | None:
        """Run one task; return its output (bytes) or None for no output."""

    @abc.abstractmethod
    def on_session_leave(self) -> None:
        """Called once, when the executor releases the session."""


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _as_output(value: object) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"on_task_invoke returned {type(value).__name__}; expected bytes or None")


def _session_enter(service: FlameService, request: Any) -> Any:
    from flamepy.common.convert import app_context_from_pb
    from flamepy.proto import types_pb2

    ctx = SessionContext(
        request.common_data if request.HasField("common_data") else None,
        request.session_id,
        app_context_from_pb(request.application),
    )
    log.info("entering session %s of %s", ctx.session_id, ctx.application)
    try:
        service.on_session_enter(ctx)
    except Exception as exc:
        log.error("on_session_enter failed:\n%s", traceback.format_exc())
        return types_pb2.Result(return_code=1, message=_describe(exc))
    return types_pb2.Result(return_code=0)


def _task_invoke(service: FlameService, request: Any) -> Any:
    from flamepy.proto import types_pb2

    ctx = TaskContext(
        task_id=request.task_id,
        session_id=request.session_id,
        input=request.input if request.HasField("input") else None,
    )
    try:
        output = _as_output(service.on_task_invoke(ctx))
    except Exception as exc:
        log.error("task %s failed:\n%s", ctx.task_id, traceback.format_exc())
        return types_pb2.TaskResult(return_code=1, message=_describe(exc))
    result = types_pb2.TaskResult(return_code=0)
    if output is not None:
        result.output = output
    return result


def _session_leave(service: FlameService, left: threading.Event) -> Any:
    from flamepy.proto import types_pb2

    log.info("leaving session")
    try:
        service.on_session_leave()
    except Exception as exc:
        log.error("on_session_leave failed:\n%s", traceback.format_exc())
        return types_pb2.Result(return_code=1, message=_describe(exc))
    finally:
        left.set()
    return types_pb2.Result(return_code=0)


class FlameInstanceServicer(shim_pb2_grpc.InstanceServicer):
    """``flame.v1.Instance`` over a :class:`FlameService`: one call into the service at a time,
    whichever way it came (gRPC or the task pipe). ``left`` is set after OnSessionLeave."""

    def __init__(self, service: FlameService) -> None:
        self._service = service
        self._one_at_a_time = threading.Lock()
        self.left = threading.Event()

    def OnSessionEnter(self, request: Any, context: Any) -> Any:
        with self._one_at_a_time:
            return _session_enter(self._service, request)

    def OnTaskInvoke(self, request: Any, context: Any) -> Any:
        with self._one_at_a_time:
            return _task_invoke(self._service, request)

    def OnSessionLeave(self, request: Any, context: Any) -> Any:
        with self._one_at_a_time:
            return _session_leave(self._service, self.left)


def socket_path(endpoint: str | None) -> Path:
    """The Unix socket path of ``unix:///path``, ``unix:path`` or a bare path."""
    if not endpoint or not endpoint.strip():
        raise InvalidConfigError(
            f"{ENDPOINT_ENV} is not set: flamepy.run() must be started by a Flame executor, "
            f"or set {ENDPOINT_ENV}=/path/to/socket"
        )
    text = endpoint.strip()
    for prefix in ("unix://", "unix:"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    if not text:
        raise InvalidConfigError(f"{ENDPOINT_ENV}={endpoint!r} names no socket path")
    return Path(text).absolute()


def _configure_logging() -> None:
    level_name = (os.environ.get(LOG_ENV) or "info").strip().upper()
    level = logging.getLevelName(level_name)
    if not isinstance(level, int):
        level = logging.INFO
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(level)


class FlameInstanceServer:
    """Serves a :class:`FlameService` on the Unix socket of ``FLAME_INSTANCE_ENDPOINT``.

    :meth:`start` serves until OnSessionLeave, then stops and returns (0.6.0's server never
    returned; the executor had to kill it). :meth:`stop` stops it early, from another thread."""

    def __init__(self, service: FlameService, endpoint: str | None = None) -> None:
        if not isinstance(service, FlameService):
            raise InvalidConfigError(f"flamepy.run() needs a FlameService, got {type(service).__name__}")
        self._service = service
        self._endpoint = endpoint
        self._servicer = FlameInstanceServicer(service)

    def start(self) -> None:
        path = socket_path(self._endpoint if self._endpoint is not None else os.environ.get(ENDPOINT_ENV))
        _configure_logging()
        if path.exists() and path.is_socket():
            path.unlink()
        pipe = _start_task_pipe(self._servicer)  # before gRPC serves: the executor looks for it then
        server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=1))
        shim_pb2_grpc.add_InstanceServicer_to_server(self._servicer, server)
        try:
            server.add_insecure_port(f"unix:{path}")
        except RuntimeError as exc:
            if pipe is not None:
                pipe.close()
            raise InvalidConfigError(f"cannot listen on unix socket {path}: {exc}") from exc
        server.start()
        name = type(self._service).__name__
        log.info("service %s listening on unix:%s", name, path)
        try:
            wait_in_main_thread(self._servicer.left)  # signal handlers (flmexec's) keep running
        finally:
            if pipe is not None:
                pipe.close()
            # the grace lets the OnSessionLeave answer reach the executor
            server.stop(STOP_GRACE_S).wait()
            log.info("service %s stopped", name)

    def stop(self) -> None:
        """Make :meth:`start` return (as if the executor had said OnSessionLeave)."""
        self._servicer.left.set()


def run(service: FlameService, endpoint: str | None = None) -> None:
    """Serve ``service`` on the Unix socket of ``FLAME_INSTANCE_ENDPOINT`` until OnSessionLeave."""
    try:
        FlameInstanceServer(service, endpoint).start()
    except FlameError:
        raise
    except OSError as exc:
        raise InternalError(f"failed to start the instance server: {exc}") from exc


def _start_task_pipe(servicer: Any) -> Any:
    """The task pipe's server when the executor asked for one (``FLAMEPY_TASK_PIPE``), else None.
    A pipe that cannot be opened is only logged: the executor then uses gRPC for tasks too."""
    from flamepy._taskpipe_server import PipeServer
    from flamepy.common import taskpipe
    from flamepy.proto import shim_pb2

    where = os.environ.pop(taskpipe.ENV, "").strip()  # not inherited by processes the service starts
    if not where:
        return None

    def handle(payload: bytes) -> bytes:
        request = shim_pb2.TaskContext.FromString(payload)
        return servicer.OnTaskInvoke(request, None).SerializeToString()

    try:
        return PipeServer(Path(where).absolute(), handle).start()
    except OSError as exc:
        log.warning("task pipe %s not opened (%s); tasks will come over gRPC", where, exc)
        return None
