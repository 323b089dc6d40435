"""The real :class:`~flamepy.transport.base.Transport`: ``flame.v1.Frontend`` + our ``FrontendExt``
over one gRPC channel, and ``RunTask`` over the session manager's Unix socket on the same host.

It owns the channel, the stubs, the in-flight limiter and the same-host runner, and it decides each
server capability in exactly one place:

* FrontendExt (``_ext``): learnt from FrontendExt calls (:meth:`GrpcTransport._ext_call`, and the
  session watch through :meth:`GrpcTransport._unsupported`); UNIMPLEMENTED makes every later call
  use plain flame.v1 (CreateTask per task, CreateTask + WatchTask for ``run_task``, WatchTask per
  task for a session watch);
* the local socket (``_local``): looked for on the first ``run_task`` (:meth:`_local_runner`), looked
  for again after it broke (:meth:`_local_broken`);
* early WatchSession headers (``_headers_early``): :meth:`learn_watch_headers_early`.

Concurrency model: thread-safe; every method blocks its calling thread only. RPCs in flight on the
channel are capped by an :class:`~flamepy._rpc.InFlightLimiter`; capability fields are written
under ``_lock`` (a racing first call may learn the same answer twice).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from flamepy import _rpc
from flamepy.common import convert as _convert
from flamepy.common.bounds import DEFAULT_MAX_TASKS_PER_REQUEST
from flamepy.config import load_context, parse_endpoint
from flamepy.errors import FlameError, InternalError, InvalidStateError, UnavailableError
from flamepy.proto import extensions_pb2, extensions_pb2_grpc, frontend_pb2, frontend_pb2_grpc
from flamepy.tls import TlsConfig, channel_credentials
from flamepy.transport.base import SessionInfo, TaskWatcher
from flamepy.transport.grpc_watch import GrpcSessionWatch
from flamepy.transport.local import LocalRunner
from flamepy.types import Application, ApplicationAttributes, Executor, Node, SessionAttributes, Task

log = logging.getLogger(__name__)


def _resource_exhausted(err: FlameError) -> bool:
    cause = err.__cause__
    return isinstance(cause, grpc.RpcError) and cause.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


T = TypeVar("T")

# A Task message carries its input and its output (each up to MAX_TASK_DATA_BYTES): receive up to
# the server's own limit rather than gRPC's 4 MiB default.
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


def _check(res: Any, what: str) -> None:
    _rpc.check_result(res.return_code, res.message if res.HasField("message") else None, what)


def _stream(call: Any, what: str, convert: Callable[[Any], T]) -> Iterator[T]:
    with _rpc.translate(what):
        for msg in call:
            yield convert(msg)


class GrpcTransport:
    """The session manager at ``endpoint`` (``http://`` plaintext, ``https://`` TLS)."""

    def __init__(
        self,
        endpoint: str,
        tls_config: TlsConfig | str | None = None,
        *,
        max_in_flight: int = _rpc.DEFAULT_MAX_IN_FLIGHT,
        local_pipe: bool = True,
    ) -> None:
        parsed = parse_endpoint(endpoint)
        self.endpoint = endpoint
        self.limiter = _rpc.InFlightLimiter(max_in_flight)
        if parsed.tls:
            creds = channel_credentials(tls_config, load_context().ca_file)
            self._channel = grpc.secure_channel(parsed.target, creds, options=_CHANNEL_OPTIONS)
        else:
            self._channel = grpc.insecure_channel(parsed.target, options=_CHANNEL_OPTIONS)
        self._fe = frontend_pb2_grpc.FrontendStub(self._channel)
        self._ext_stub = extensions_pb2_grpc.FrontendExtStub(self._channel)
        self._lock = threading.Lock()
        self._closed = False
        # None: unknown yet; False: the server answered UNIMPLEMENTED for FrontendExt.
        self._ext: bool | None = None
        # inputs per CreateTasks call: the server's default limit, halved if it answers RESOURCE_EXHAUSTED
        self.tasks_per_call = DEFAULT_MAX_TASKS_PER_REQUEST
        # None: unknown yet; False: WatchSession headers come only with the first completion.
        self._headers_early: bool | None = None
        # None = not looked for yet, False = not offered or not usable from here (or local_pipe=False).
        self._local: LocalRunner | bool | None = None if local_pipe else False

    # -- lifecycle and capabilities --------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            local = self._local
        if isinstance(local, LocalRunner):
            local.close()
        self._channel.close()

    def __enter__(self) -> GrpcTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def frontend_ext(self) -> bool | None:
        """Whether the server offers FrontendExt (None: not known yet)."""
        return self._ext

    @property
    def local_runner(self) -> LocalRunner | bool | None:
        """The same-host runner in use, False when there is none, None when not looked for yet."""
        return self._local

    @property
    def watch_headers_early(self) -> bool | None:
        return self._headers_early

    def learn_watch_headers_early(self, early: bool) -> None:
        with self._lock:
            if self._headers_early is None:
                self._headers_early = early

    def _unsupported(self, err: FlameError) -> bool:
        """Whether ``err`` says the server lacks FrontendExt (then remembered for every later call)."""
        if not _rpc.is_unimplemented(err):
            return False
        if self._ext is not False:
            log.info("%s lacks FrontendExt; using plain flame.v1 calls", self.endpoint)
        self._ext = False
        return True

    def _ext_call(self, method: Callable[..., T], request: Any, what: str) -> T | None:
        """A FrontendExt call; None when the server lacks FrontendExt (the caller falls back)."""
        try:
            response = self._call(method, request, what)
        except FlameError as err:
            if self._unsupported(err):
                return None
            raise
        self._ext = True
        return response

    def _local_runner(self) -> LocalRunner | None:
        local = self._local
        if local is None:
            ask = lambda: self._call(  # noqa: E731
                self._ext_stub.GetLocalEndpoint, extensions_pb2.LocalEndpointRequest(), "local endpoint"
            )
            local = LocalRunner.discover(ask) or False
            with self._lock:
                if self._closed and isinstance(local, LocalRunner):
                    local.close()
                    local = False
                self._local = local
        return local if isinstance(local, LocalRunner) else None

    def _local_broken(self, runner: LocalRunner) -> None:
        with self._lock:
            if self._local is runner:
                self._local = None  # look again next time: the session manager may have restarted
        runner.close()

    def _call(self, method: Callable[..., T], request: Any, what: str) -> T:
        if self._closed:
            raise InvalidStateError(f"{what}: the connection to {self.endpoint} is closed")
        return _rpc.call(method, request, what=what, limiter=self.limiter)

    def _open(self, method: Callable[..., Any], request: Any, what: str, **kwargs: Any) -> Any:
        if self._closed:
            raise InvalidStateError(f"{what}: the connection to {self.endpoint} is closed")
        with _rpc.translate(what):
            return method(request, **kwargs)

    # -- applications ----------------------------------------------------------------------------

    def register_application(self, name: str, attrs: ApplicationAttributes) -> None:
        req = frontend_pb2.RegisterApplicationRequest(name=name, application=_convert.app_attrs_to_pb(attrs))
        what = f"register application {name!r}"
        _check(self._call(self._fe.RegisterApplication, req, what), what)

    def unregister_application(self, name: str) -> None:
        what = f"unregister application {name!r}"
        req = frontend_pb2.UnregisterApplicationRequest(name=name)
        _check(self._call(self._fe.UnregisterApplication, req, what), what)

    def update_application(self, name: str, attrs: ApplicationAttributes) -> None:
        what = f"update application {name!r}"
        req = frontend_pb2.UpdateApplicationRequest(name=name, application=_convert.app_attrs_to_pb(attrs))
        _check(self._call(self._fe.UpdateApplication, req, what), what)

    def get_application(self, name: str) -> Application:
        req = frontend_pb2.GetApplicationRequest(name=name)
        return _convert.application_from_pb(
            self._call(self._fe.GetApplication, req, f"get application {name!r}")
        )

    def list_applications(self) -> list[Application]:
        res = self._call(self._fe.ListApplication, frontend_pb2.ListApplicationRequest(), "list applications")
        return [_convert.application_from_pb(a) for a in res.applications]

    # -- sessions --------------------------------------------------------------------------------

    def create_session(self, session_id: str, attrs: SessionAttributes) -> SessionInfo:
        req = frontend_pb2.CreateSessionRequest(
            session_id=session_id, session=_convert.session_spec_to_pb(attrs)
        )
        return _convert.session_from_pb(
            self._call(self._fe.CreateSession, req, f"create session {session_id!r}")
        )

    def open_session(self, session_id: str, spec: SessionAttributes | None) -> SessionInfo:
        req = frontend_pb2.OpenSessionRequest(session_id=session_id)
        if spec is not None:
            req.session.CopyFrom(_convert.session_spec_to_pb(spec))
        return _convert.session_from_pb(self._call(self._fe.OpenSession, req, f"open session {session_id!r}"))

    def get_session(self, session_id: str) -> SessionInfo:
        req = frontend_pb2.GetSessionRequest(session_id=session_id)
        return _convert.session_from_pb(self._call(self._fe.GetSession, req, f"get session {session_id!r}"))

    def list_sessions(self) -> list[SessionInfo]:
        res = self._call(self._fe.ListSession, frontend_pb2.ListSessionRequest(), "list sessions")
        return [_convert.session_from_pb(s) for s in res.sessions]

    def close_session(self, session_id: str) -> SessionInfo:
        req = frontend_pb2.CloseSessionRequest(session_id=session_id)
        return _convert.session_from_pb(
            self._call(self._fe.CloseSession, req, f"close session {session_id!r}")
        )

    # -- tasks -----------------------------------------------------------------------------------

    def create_task(self, session_id: str, data: bytes | None) -> Task:
        req = frontend_pb2.CreateTaskRequest()
        req.task.session_id = session_id
        if data is not None:
            req.task.input = data
        what = f"create task in session {session_id!r}"
        return _convert.task_from_pb(self._call(self._fe.CreateTask, req, what))

    def create_tasks(
        self, session_id: str, inputs: list[bytes | None]
    ) -> tuple[list[str], FlameError | None]:
        """In CreateTasks calls of at most ``tasks_per_call`` inputs; a server that answers a call
        RESOURCE_EXHAUSTED (it takes fewer tasks, or fewer bytes, per request; nothing of the call
        was created) gets the same inputs again in calls half the size, and later calls stay that
        small."""
        ids: list[str] = []
        while self._ext is not False and len(ids) < len(inputs):
            chunk = inputs[len(ids) : len(ids) + self.tasks_per_call]
            try:
                got = self._create_batch(session_id, chunk)
            except FlameError as err:
                if len(chunk) > 1 and _resource_exhausted(err):
                    self.tasks_per_call = max(1, len(chunk) // 2)
                    continue
                return ids, err
            if got is None:  # no FrontendExt: one CreateTask each for the rest
                break
            if len(got) != len(chunk):
                what = f"create {len(chunk)} tasks in session {session_id!r}"
                return ids + got[: len(chunk)], InternalError(f"{what}: server answered {len(got)} task ids")
            ids += got
        for data in inputs[len(ids) :]:
            try:
                ids.append(self.create_task(session_id, data).id)
            except FlameError as err:
                return ids, err
        return ids, None

    def _create_batch(self, session_id: str, inputs: list[bytes | None]) -> list[str] | None:
        req = extensions_pb2.CreateTasksRequest(session_id=session_id)
        for data in inputs:
            item = req.inputs.add()
            if data is not None:
                item.input = data
        what = f"create {len(inputs)} tasks in session {session_id!r}"
        res = self._ext_call(self._ext_stub.CreateTasks, req, what)
        return None if res is None else list(res.task_ids)

    def run_task(self, session_id: str, data: bytes | None) -> Task:
        if self._ext is not False:
            req = extensions_pb2.RunTaskRequest(session_id=session_id)
            if data is not None:
                req.input = data
            what = f"run task in session {session_id!r}"
            local = self._local_runner()
            if local is not None:
                try:
                    msg = local.run_task(req, what)
                except UnavailableError:
                    self._local_broken(local)
                    raise
                if msg is not None:
                    return _convert.task_from_pb(msg)
                self._local_broken(local)  # nothing was sent: gRPC below
            msg = self._ext_call(self._ext_stub.RunTask, req, what)
            if msg is not None:
                return _convert.task_from_pb(msg)
        last = self.create_task(session_id, data)
        for snapshot in self.watch_task(session_id, last.id):
            last = snapshot
        return last

    def get_task(self, session_id: str, task_id: str) -> Task:
        req = frontend_pb2.GetTaskRequest(task_id=str(task_id), session_id=session_id)
        what = f"get task {task_id} of session {session_id!r}"
        return _convert.task_from_pb(self._call(self._fe.GetTask, req, what))

    def cancel_task(self, session_id: str, task_id: str, reason: str | None = None) -> Task:
        req = extensions_pb2.CancelTaskRequest(session_id=session_id, task_id=str(task_id), reason=reason)
        what = f"cancel task {task_id} of session {session_id!r}"
        return _convert.task_from_pb(self._call(self._ext_stub.CancelTask, req, what))

    def list_tasks(self, session_id: str) -> TaskWatcher:
        what = f"list tasks of session {session_id!r}"
        call = self._open(self._fe.ListTask, frontend_pb2.ListTaskRequest(session_id=session_id), what)
        return TaskWatcher(_stream(call, what, _convert.task_from_pb), call.cancel)

    def watch_task(self, session_id: str, task_id: str, timeout: float | None = None) -> TaskWatcher:
        req = frontend_pb2.WatchTaskRequest(task_id=str(task_id), session_id=session_id)
        what = f"watch task {task_id} of session {session_id!r}"
        call = self._open(self._fe.WatchTask, req, what, timeout=timeout)
        return TaskWatcher(_stream(call, what, _convert.task_from_pb), call.cancel)

    def watch_session(self, session_id: str) -> GrpcSessionWatch:
        open_stream = None if self._ext is False else self._ext_stub.WatchSession
        return GrpcSessionWatch(
            session_id, open_stream, self._unsupported, lambda tid: self.watch_task(session_id, tid)
        )

    # -- executors and nodes ---------------------------------------------------------------------

    def list_executors(self) -> list[Executor]:
        res = self._call(self._fe.ListExecutor, frontend_pb2.ListExecutorRequest(), "list executors")
        return [_convert.executor_from_pb(e) for e in res.executors]

    def list_nodes(self) -> list[Node]:
        res = self._call(self._fe.ListNodes, frontend_pb2.ListNodesRequest(), "list nodes")
        return [_convert.node_from_pb(n) for n in res.nodes]

    def get_node(self, name: str) -> Node:
        res = self._call(self._fe.GetNode, frontend_pb2.GetNodeRequest(name=name), f"get node {name!r}")
        return _convert.node_from_pb(res.node)
