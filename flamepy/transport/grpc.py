"""The real :class:`~flamepy.transport.base.Transport`: ``flame.v1.Frontend`` + our ``FrontendExt``
over one gRPC channel (:class:`~flamepy.transport.grpc_channel.GrpcChannel`: channel, stubs,
capabilities, call helpers), and ``RunTask`` over the session manager's Unix socket on the same host.

Retries (:mod:`flamepy.transport.retry`, within ``retry_deadline`` seconds): reads (GetTask,
GetSession, List*, ...) and watches (WatchTask, ListTask before its first item) are repeated after
the session manager became unreachable; ``create_tasks`` sends idempotency keys (when given) so its
caller may repeat it; ``run_task`` (``Session.invoke``) sends RunTask with a key: when the
connection broke after it went out, RunTask is repeated with the same key (the server answers the
outcome of the task already made); when the request could not go out, it creates the task with the
key and follows it with WatchTask instead, both repeated. Past the deadline the UnavailableError
says the task may still run. Without FrontendExt (plain flame.v1) tasks are created without keys,
never repeated.

Concurrency model: thread-safe, as :class:`~flamepy.transport.grpc_channel.GrpcChannel`; a
:class:`_Reopening` stream is iterated by one thread and cancelled from any.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import grpc

from flamepy import _rpc
from flamepy.common import convert as _convert
from flamepy.common.probe_convert import chunk_from_pb, stats_from_pb
from flamepy.errors import FlameError, InternalError, InvalidArgumentError, UnavailableError
from flamepy.proto import extensions_pb2, frontend_pb2, types_pb2
from flamepy.tasklog import TaskLogChunk
from flamepy.taskprobe import EXEC_DEFAULT_TIMEOUT_S, ExecChunk, TaskStats
from flamepy.transport.base import SessionInfo, TaskWatcher
from flamepy.transport.grpc_channel import GrpcChannel
from flamepy.transport.grpc_watch import GrpcSessionWatch, Reopening
from flamepy.types import (
    Application,
    ApplicationAttributes,
    Executor,
    Node,
    RetryPolicy,
    SessionAttributes,
    Task,
)

log = logging.getLogger(__name__)


def _resource_exhausted(err: FlameError) -> bool:
    """A call over a per-request limit (fewer tasks or bytes per call help), not a full disk."""
    cause = err.__cause__
    return (
        isinstance(err, InvalidArgumentError)
        and isinstance(cause, grpc.RpcError)
        and cause.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    )


T = TypeVar("T")


def may_still_run(err: UnavailableError, session_id: str) -> UnavailableError:
    """The error of a RunTask whose connection broke after the request went out."""
    return UnavailableError(
        f"{err.message}; the task of session {session_id!r} may have been created and may still run"
    )


def _check(res: Any, what: str) -> None:
    _rpc.check_result(res.return_code, res.message if res.HasField("message") else None, what)


def _stream(call: Any, what: str, convert: Callable[[Any], T]) -> Iterator[T]:
    with _rpc.translate(what):
        for msg in call:
            yield convert(msg)


EXEC_CALL_SLACK_S = 60.0  # an ExecInTask call's deadline past the command's own timeout


class GrpcTransport(GrpcChannel):
    """The session manager at ``endpoint`` (``http://`` plaintext, ``https://`` TLS): see
    :class:`~flamepy.transport.grpc_channel.GrpcChannel` for the constructor."""

    def __enter__(self) -> GrpcTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
            self._read(self._fe.GetApplication, req, f"get application {name!r}")
        )

    def list_applications(self) -> list[Application]:
        res = self._read(self._fe.ListApplication, frontend_pb2.ListApplicationRequest(), "list applications")
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
        return _convert.session_from_pb(self._read(self._fe.GetSession, req, f"get session {session_id!r}"))

    def list_sessions(self) -> list[SessionInfo]:
        res = self._read(self._fe.ListSession, frontend_pb2.ListSessionRequest(), "list sessions")
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
        self, session_id: str, inputs: list[bytes | None], keys: list[str] | None = None
    ) -> tuple[list[str], FlameError | None]:
        """In CreateTasks calls of at most ``tasks_per_call`` inputs; a server that answers a call
        RESOURCE_EXHAUSTED (it takes fewer tasks, or fewer bytes, per request; nothing of the call
        was created) gets the same inputs again in calls half the size, and later calls stay that
        small."""
        ids: list[str] = []
        while self._ext is not False and len(ids) < len(inputs):
            chunk = inputs[len(ids) : len(ids) + self.tasks_per_call]
            chunk_keys = None if keys is None else keys[len(ids) : len(ids) + len(chunk)]
            try:
                got = self._create_batch(session_id, chunk, chunk_keys)
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

    def _create_batch(
        self, session_id: str, inputs: list[bytes | None], keys: list[str] | None = None
    ) -> list[str] | None:
        req = extensions_pb2.CreateTasksRequest(session_id=session_id)
        add = req.inputs.add
        if keys is None:
            for data in inputs:
                item = add()
                if data is not None:
                    item.input = data
        else:
            for data, key in zip(inputs, keys, strict=True):
                item = add()
                item.idempotency_key = key
                if data is not None:
                    item.input = data
        what = f"create {len(inputs)} tasks in session {session_id!r}"
        res = self._ext_call(self._ext_stub.CreateTasks, req, what)
        return None if res is None else list(res.task_ids)

    def run_task(self, session_id: str, data: bytes | None) -> Task:
        """RunTask with an idempotency key (same-host socket, else gRPC): one round trip. When the
        connection breaks after the request went out, RunTask is repeated with the same key (it
        follows the task already made, :meth:`_rerun`); when the session manager cannot be reached
        before it goes out, the task is created with that key and followed (:meth:`_run_keyed`).
        Without a retry deadline a break after sending raises UnavailableError: the task may run."""
        what = f"run task in session {session_id!r}"
        if self._ext is not False:
            key = self.new_key()
            req = extensions_pb2.RunTaskRequest(session_id=session_id, idempotency_key=key)
            if data is not None:
                req.input = data
            local = self._local_runner()
            msg = None
            if local is not None:
                try:
                    msg = local.run_task(req, what)
                except UnavailableError as err:
                    self._local_broken(local)
                    msg = self._rerun(req, err, what)
                if msg is None:
                    self._local_broken(local)  # nothing was sent: the session manager may be restarting
                else:
                    self.reached = True
            deadline = self._deadline
            if msg is None and (local is None or deadline <= 0):
                try:
                    msg = self._ext_call(self._ext_stub.RunTask, req, what)
                except UnavailableError as err:
                    if not _rpc.never_sent(err):
                        msg = self._rerun(req, err, what)
                    elif deadline <= 0:
                        raise
            if msg is not None:
                return _convert.task_from_pb(msg)
            if self._ext is not False and deadline > 0:
                keyed = self._run_keyed(session_id, data, key)
                if keyed is not None:
                    return keyed
        last = self.create_task(session_id, data)  # no key: not repeated
        for snapshot in self.watch_task(session_id, last.id):
            last = snapshot
        return last

    def _rerun(
        self, req: extensions_pb2.RunTaskRequest, err: UnavailableError, what: str
    ) -> types_pb2.Task | None:
        """RunTask repeated over gRPC with the same key after ``err`` broke the connection once the
        request had gone out: the server follows the task made with the key (or makes it, if the
        first request never became durable). Without a retry deadline: ``err``, saying the task
        may still run."""
        if self._deadline <= 0:
            raise may_still_run(err, req.session_id) from err
        log.info("%s: %s; repeating RunTask with its idempotency key", what, err.message)
        return self._retrying(lambda: self._ext_call(self._ext_stub.RunTask, req, what), what, "the task")

    def _run_keyed(self, session_id: str, data: bytes | None, key: str) -> Task | None:
        """Create the task with idempotency ``key`` and follow it to its end, both repeated while the
        session manager is unreachable; None when the server has no FrontendExt."""
        what = f"run task in session {session_id!r}"
        ids = self._retrying(lambda: self._create_batch(session_id, [data], [key]), what, "the task")
        if ids is None:
            return None
        if len(ids) != 1:
            raise InternalError(f"{what}: server answered {len(ids)} task ids for one input")
        last: Task | None = None
        for snapshot in self.watch_task(session_id, ids[0]):
            last = snapshot
        if last is None:
            return self.get_task(session_id, ids[0])
        return last

    def get_task(self, session_id: str, task_id: str) -> Task:
        req = frontend_pb2.GetTaskRequest(task_id=str(task_id), session_id=session_id)
        what = f"get task {task_id} of session {session_id!r}"
        return _convert.task_from_pb(self._read(self._fe.GetTask, req, what))

    def cancel_task(self, session_id: str, task_id: str, reason: str | None = None) -> Task:
        req = extensions_pb2.CancelTaskRequest(session_id=session_id, task_id=str(task_id), reason=reason)
        what = f"cancel task {task_id} of session {session_id!r}"
        return _convert.task_from_pb(self._call(self._ext_stub.CancelTask, req, what))

    def read_task_log(self, session_id: str, task_id: str, offset: int, max_bytes: int) -> TaskLogChunk:
        req = extensions_pb2.ReadTaskLogRequest(
            session_id=session_id, task_id=str(task_id), offset=offset, max_bytes=max_bytes
        )
        what = f"read the log of task {task_id} of session {session_id!r}"
        return _convert.log_chunk_from_pb(self._call(self._ext_stub.ReadTaskLog, req, what))

    def task_stats(self, session_id: str, task_id: str) -> TaskStats:
        req = extensions_pb2.TaskStatsRequest(session_id=session_id, task_id=str(task_id))
        what = f"get the stats of task {task_id} of session {session_id!r}"
        return stats_from_pb(self._call(self._ext_stub.GetTaskStats, req, what))

    def exec_in_task(
        self, session_id: str, task_id: str, argv: list[str], timeout_s: float = 0.0
    ) -> Iterator[ExecChunk]:
        req = extensions_pb2.ExecInTaskRequest(
            session_id=session_id, task_id=str(task_id), argv=list(argv), timeout_s=timeout_s
        )
        what = f"run a command beside task {task_id} of session {session_id!r}"
        limit = (timeout_s or EXEC_DEFAULT_TIMEOUT_S) + EXEC_CALL_SLACK_S
        call = self._open(self._ext_stub.ExecInTask, req, what, timeout=limit)
        try:
            with _rpc.translate(what):
                for msg in call:
                    yield chunk_from_pb(msg)
        finally:
            call.cancel()  # a no-op once done; stops the command when the caller left early

    def list_tasks(self, session_id: str) -> TaskWatcher:
        """Repeated while the session manager is unreachable, until its first task arrives."""
        what = f"list tasks of session {session_id!r}"
        req = frontend_pb2.ListTaskRequest(session_id=session_id)
        if self._deadline <= 0:
            call = self._open(self._fe.ListTask, req, what)
            return TaskWatcher(_stream(call, what, _convert.task_from_pb), call.cancel)
        stream = Reopening(self, lambda: self._open(self._fe.ListTask, req, what), what, resume=False)
        return TaskWatcher(iter(stream), stream.cancel)

    def watch_task(self, session_id: str, task_id: str, timeout: float | None = None) -> TaskWatcher:
        """Reopened while the session manager is unreachable (the server sends the task's current
        state first); not with a ``timeout``, the caller's own deadline."""
        req = frontend_pb2.WatchTaskRequest(task_id=str(task_id), session_id=session_id)
        what = f"watch task {task_id} of session {session_id!r}"
        if timeout is not None or self._deadline <= 0:
            call = self._open(self._fe.WatchTask, req, what, timeout=timeout)
            return TaskWatcher(_stream(call, what, _convert.task_from_pb), call.cancel)
        may_run = f"task {task_id} of session {session_id!r}"
        stream = Reopening(self, lambda: self._open(self._fe.WatchTask, req, what), what, True, may_run)
        return TaskWatcher(iter(stream), stream.cancel)

    def watch_session(self, session_id: str) -> GrpcSessionWatch:
        open_stream = None if self._ext is False else self._ext_stub.WatchSession
        return GrpcSessionWatch(
            session_id, open_stream, self._unsupported, lambda tid: self.watch_task(session_id, tid)
        )

    # -- retry policies --------------------------------------------------------------------------

    def set_retry_policy(
        self,
        application: str | None,
        session_id: str | None,
        max_retries: int | None,
        retry_on_error: bool | None,
        task_timeout: float | None,
    ) -> RetryPolicy:
        """SetRetryPolicy (FrontendExt; repeated while unreachable: setting the same values twice
        is harmless). UnimplementedError-like FlameError on a server without it."""
        req = _convert.set_retry_policy_to_pb(
            application, session_id, max_retries, retry_on_error, task_timeout
        )
        target = f"session {session_id!r}" if session_id is not None else f"application {application!r}"
        what = f"set the retry policy of {target}"
        return _convert.retry_policy_from_pb(self._read(self._ext_stub.SetRetryPolicy, req, what))

    def set_session_placement(self, session_id: str, spread: bool) -> bool:
        """SetSessionPlacement (FrontendExt; repeated while unreachable: idempotent)."""
        req = extensions_pb2.SetSessionPlacementRequest(session_id=session_id, spread=spread)
        what = f"set the placement of session {session_id!r}"
        return bool(self._read(self._ext_stub.SetSessionPlacement, req, what).spread)

    # -- executors and nodes ---------------------------------------------------------------------

    def list_executors(self) -> list[Executor]:
        res = self._read(self._fe.ListExecutor, frontend_pb2.ListExecutorRequest(), "list executors")
        return [_convert.executor_from_pb(e) for e in res.executors]

    def list_nodes(self) -> list[Node]:
        res = self._read(self._fe.ListNodes, frontend_pb2.ListNodesRequest(), "list nodes")
        return [_convert.node_from_pb(n) for n in res.nodes]

    def get_node(self, name: str) -> Node:
        res = self._read(self._fe.GetNode, frontend_pb2.GetNodeRequest(name=name), f"get node {name!r}")
        return _convert.node_from_pb(res.node)
