"""A small in-memory flame.v1 Frontend (+ optional flamepy.v1 FrontendExt) for SDK unit tests.

Real gRPC on 127.0.0.1:0; tasks complete at once through ``behaviour(input) -> outcome`` (or stay
Pending when it returns None). Counters record how the client used the server.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass

import grpc

from flamepy.proto import (
    extensions_pb2,
    extensions_pb2_grpc,
    frontend_pb2,
    frontend_pb2_grpc,
    types_pb2,
)

Outcome = tuple[int, bytes | None, str | None]  # (TaskState, output, message)
_END = object()


@dataclass
class _Abort:
    code: grpc.StatusCode


def echo(data: bytes | None) -> Outcome | None:
    if data == b"fail":
        return types_pb2.Failed, None, "ValueError: bad input"
    if data == b"cancel":
        return types_pb2.Cancelled, None, "cancelled by test"
    if data == b"pending":
        return None
    return types_pb2.Succeed, data, None


def _now() -> int:
    return int(time.time() * 1000)


@dataclass
class Counters:
    create_task: int = 0
    create_tasks: int = 0
    create_tasks_inputs: int = 0
    watch_session: int = 0
    watch_task: int = 0
    run_task: int = 0
    get_task: int = 0
    list_task: int = 0


class FakeFrontend(frontend_pb2_grpc.FrontendServicer, extensions_pb2_grpc.FrontendExtServicer):
    def __init__(self, behaviour: Callable[[bytes | None], Outcome | None] = echo) -> None:
        self.behaviour = behaviour
        self.cond = threading.Condition()
        self.apps: dict[str, types_pb2.Application] = {}
        self.sessions: dict[str, types_pb2.Session] = {}
        self.tasks: dict[str, dict[str, types_pb2.Task]] = {}
        self.ids: dict[str, itertools.count] = {}
        self.watchers: dict[str, list[queue.Queue]] = {}
        self.counters = Counters()
        self.fail: dict[str, tuple[grpc.StatusCode, str]] = {}
        self.results: dict[str, tuple[int, str]] = {}  # method -> Result(return_code, message)
        # called by CreateTasks after publishing completions, before answering
        self.before_create_tasks_reply: Callable[[list[str]], None] | None = None
        self.send_headers_early = True  # WatchSession headers at once, or with the first message

    # -- helpers ---------------------------------------------------------------------------------

    def _maybe_fail(self, method: str, context) -> None:
        if method in self.fail:
            code, details = self.fail[method]
            context.abort(code, details)

    def _session(self, sid: str, context) -> types_pb2.Session:
        ssn = self.sessions.get(sid)
        if ssn is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"session {sid} not found")
        return ssn

    def _result(self, method: str) -> types_pb2.Result:
        code, message = self.results.get(method, (0, ""))
        return types_pb2.Result(return_code=code, message=message) if code else types_pb2.Result()

    def _publish(self, sid: str, task: types_pb2.Task) -> None:
        completion = extensions_pb2.TaskCompletion(task_id=task.metadata.id, state=task.status.state)
        if task.spec.HasField("output"):
            completion.output = task.spec.output
        for ev in task.status.events:
            if ev.code in (types_pb2.Failed, types_pb2.Cancelled) and ev.HasField("message"):
                completion.message = ev.message
        for q in self.watchers.get(sid, []):
            q.put(completion)

    def _finish(self, sid: str, task: types_pb2.Task, outcome: Outcome) -> None:
        state, output, message = outcome
        task.status.state = state
        task.status.completion_time = _now()
        if output is not None:
            task.spec.output = output
        ev = task.status.events.add(code=state, creation_time=_now())
        if message is not None:
            ev.message = message
        self._publish(sid, task)
        self.cond.notify_all()

    def _new_task(self, sid: str, data: bytes | None, context) -> types_pb2.Task:
        ssn = self._session(sid, context)
        if ssn.status.state == types_pb2.Closed:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"session {sid} is not open")
        tid = str(next(self.ids[sid]))
        task = types_pb2.Task(
            metadata=types_pb2.Metadata(id=tid, name=tid),
            spec=types_pb2.TaskSpec(session_id=sid),
            status=types_pb2.TaskStatus(state=types_pb2.Pending, creation_time=_now()),
        )
        task.status.events.add(code=0, creation_time=_now())
        if data is not None:
            task.spec.input = data
        self.tasks[sid][tid] = task
        self.cond.notify_all()
        outcome = self.behaviour(data)
        if outcome is not None:
            self._finish(sid, task, outcome)
        return task

    def break_watches(self, sid: str, code: grpc.StatusCode) -> None:
        """Fail every WatchSession stream of ``sid`` with ``code``; no completion reaches them."""
        with self.cond:
            queues, self.watchers[sid] = self.watchers.get(sid, []), []
        for q in queues:
            q.put(_Abort(code))

    def complete(self, sid: str, tid: str, outcome: Outcome) -> None:
        with self.cond:
            self._finish(sid, self.tasks[sid][tid], outcome)

    # -- applications ----------------------------------------------------------------------------

    def RegisterApplication(self, request, context):
        self._maybe_fail("RegisterApplication", context)
        with self.cond:
            if request.name in self.apps:
                return types_pb2.Result(return_code=1, message=f"application {request.name} already exists")
            self.apps[request.name] = types_pb2.Application(
                metadata=types_pb2.Metadata(id=request.name, name=request.name),
                spec=request.application,
                status=types_pb2.ApplicationStatus(state=types_pb2.Enabled, creation_time=_now()),
            )
        return self._result("RegisterApplication")

    def UnregisterApplication(self, request, context):
        self._maybe_fail("UnregisterApplication", context)
        with self.cond:
            if self.apps.pop(request.name, None) is None:
                return types_pb2.Result(return_code=1, message=f"application {request.name} not found")
        return types_pb2.Result()

    def UpdateApplication(self, request, context):
        with self.cond:
            if request.name not in self.apps:
                return types_pb2.Result(return_code=1, message=f"application {request.name} not found")
            self.apps[request.name].spec.CopyFrom(request.application)
        return types_pb2.Result()

    def GetApplication(self, request, context):
        self._maybe_fail("GetApplication", context)
        app = self.apps.get(request.name)
        if app is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"application {request.name} not found")
        return app

    def ListApplication(self, request, context):
        self._maybe_fail("ListApplication", context)
        return types_pb2.ApplicationList(applications=list(self.apps.values()))

    def ListExecutor(self, request, context):
        ex = types_pb2.Executor(
            metadata=types_pb2.Metadata(id="e1", name="e1"),
            spec=types_pb2.ExecutorSpec(node="n1", resreq=types_pb2.ResourceRequirement(cpu=1)),
            status=types_pb2.ExecutorStatus(state=types_pb2.ExecutorIdle),
        )
        return types_pb2.ExecutorList(executors=[ex])

    def _node(self) -> types_pb2.Node:
        cap = types_pb2.ResourceRequirement(cpu=4, memory=1 << 30, gpu=1)
        return types_pb2.Node(
            metadata=types_pb2.Metadata(id="n1", name="n1"),
            spec=types_pb2.NodeSpec(hostname="n1"),
            status=types_pb2.NodeStatus(state=types_pb2.Ready, capacity=cap, allocatable=cap),
        )

    def ListNodes(self, request, context):
        return types_pb2.NodeList(nodes=[self._node()])

    def GetNode(self, request, context):
        if request.name != "n1":
            context.abort(grpc.StatusCode.NOT_FOUND, f"node {request.name} not found")
        return frontend_pb2.GetNodeResponse(node=self._node())

    # -- sessions --------------------------------------------------------------------------------

    def CreateSession(self, request, context):
        self._maybe_fail("CreateSession", context)
        sid = request.session_id
        with self.cond:
            if not sid:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "session id must not be empty")
            if sid in self.sessions:
                context.abort(grpc.StatusCode.ALREADY_EXISTS, f"session {sid} already exists")
            ssn = types_pb2.Session(
                metadata=types_pb2.Metadata(id=sid, name=sid),
                spec=request.session,
                status=types_pb2.SessionStatus(state=types_pb2.Open, creation_time=_now()),
            )
            self.sessions[sid] = ssn
            self.tasks[sid] = {}
            self.ids[sid] = itertools.count(1)
            return ssn

    def OpenSession(self, request, context):
        sid = request.session_id
        with self.cond:
            ssn = self.sessions.get(sid)
        if ssn is None:
            if not request.HasField("session"):
                context.abort(grpc.StatusCode.NOT_FOUND, f"session {sid} not found")
            create = frontend_pb2.CreateSessionRequest(session_id=sid, session=request.session)
            return self.CreateSession(create, context)
        if ssn.status.state == types_pb2.Closed:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f"session {sid} is not open")
        return ssn

    def GetSession(self, request, context):
        self._maybe_fail("GetSession", context)
        with self.cond:
            ssn = self._session(request.session_id, context)
            self._count(request.session_id, ssn)
            return ssn

    def _count(self, sid: str, ssn: types_pb2.Session) -> None:
        states = [t.status.state for t in self.tasks[sid].values()]
        ssn.status.pending = states.count(types_pb2.Pending)
        ssn.status.succeed = states.count(types_pb2.Succeed)
        ssn.status.failed = states.count(types_pb2.Failed)
        ssn.status.cancelled = states.count(types_pb2.Cancelled)

    def ListSession(self, request, context):
        return types_pb2.SessionList(sessions=list(self.sessions.values()))

    def CloseSession(self, request, context):
        self._maybe_fail("CloseSession", context)
        sid = request.session_id
        with self.cond:
            ssn = self._session(sid, context)
            if ssn.status.state != types_pb2.Closed:
                ssn.status.state = types_pb2.Closed
                ssn.status.completion_time = _now()
                for task in self.tasks[sid].values():
                    if task.status.state == types_pb2.Pending:
                        self._finish(sid, task, (types_pb2.Cancelled, None, "session closed"))
                for q in self.watchers.get(sid, []):
                    q.put(_END)
            self._count(sid, ssn)
            return ssn

    # -- tasks -----------------------------------------------------------------------------------

    def CreateTask(self, request, context):
        self._maybe_fail("CreateTask", context)
        with self.cond:
            self.counters.create_task += 1
            data = request.task.input if request.task.HasField("input") else None
            return self._new_task(request.task.session_id, data, context)

    def GetTask(self, request, context):
        self._maybe_fail("GetTask", context)
        with self.cond:
            self.counters.get_task += 1
            task = self.tasks.get(request.session_id, {}).get(request.task_id)
            if task is None:
                context.abort(grpc.StatusCode.NOT_FOUND, f"task {request.task_id} not found")
            return task

    def ListTask(self, request, context):
        sid = request.session_id
        with self.cond:
            self.counters.list_task += 1
            tasks = [types_pb2.Task.FromString(t.SerializeToString()) for t in self.tasks[sid].values()]
        yield from tasks

    def WatchTask(self, request, context):
        self._maybe_fail("WatchTask", context)
        context.add_callback(self._wake)
        with self.cond:
            self.counters.watch_task += 1
            task = self.tasks.get(request.session_id, {}).get(request.task_id)
            if task is None:
                context.abort(grpc.StatusCode.NOT_FOUND, f"task {request.task_id} not found")
        seen: list[int] = []
        while context.is_active():
            with self.cond:
                self.cond.wait_for(
                    lambda: not seen or task.status.state != seen[-1] or not context.is_active()
                )
                snapshot = types_pb2.Task.FromString(task.SerializeToString())
            seen.append(snapshot.status.state)
            yield snapshot
            if seen[-1] in (types_pb2.Succeed, types_pb2.Failed, types_pb2.Cancelled):
                return

    def _wake(self) -> None:
        with self.cond:
            self.cond.notify_all()

    # -- FrontendExt -----------------------------------------------------------------------------

    def CreateTasks(self, request, context):
        self._maybe_fail("CreateTasks", context)
        with self.cond:
            self.counters.create_tasks += 1
            self.counters.create_tasks_inputs += len(request.inputs)
            ids = [
                self._new_task(
                    request.session_id, i.input if i.HasField("input") else None, context
                ).metadata.id
                for i in request.inputs
            ]
        if self.before_create_tasks_reply is not None:
            self.before_create_tasks_reply(ids)
        return extensions_pb2.CreateTasksResponse(task_ids=ids)

    def WatchSession(self, request, context):
        self._maybe_fail("WatchSession", context)
        sid = request.session_id
        q: queue.Queue = queue.Queue()
        with self.cond:
            self._session(sid, context)
            self.counters.watch_session += 1
            self.watchers.setdefault(sid, []).append(q)
        context.add_callback(lambda: q.put(_END))
        if self.send_headers_early:
            context.send_initial_metadata(())
        try:
            while True:
                item = q.get()
                if item is _END:
                    return
                if isinstance(item, _Abort):
                    context.abort(item.code, "watch stream broken by the test")
                batch = [item]
                while not q.empty():
                    nxt = q.get_nowait()
                    if nxt is _END:
                        yield extensions_pb2.SessionCompletions(completions=batch)
                        return
                    batch.append(nxt)
                yield extensions_pb2.SessionCompletions(completions=batch)
        finally:
            with self.cond:
                if q in self.watchers[sid]:
                    self.watchers[sid].remove(q)

    def RunTask(self, request, context):
        self._maybe_fail("RunTask", context)
        context.add_callback(self._wake)
        with self.cond:
            self.counters.run_task += 1
            task = self._new_task(
                request.session_id, request.input if request.HasField("input") else None, context
            )
            self.cond.wait_for(
                lambda: (
                    task.status.state not in (types_pb2.Pending, types_pb2.Running) or not context.is_active()
                )
            )
            return task


class FakeServer:
    """The fake on a real gRPC server bound to 127.0.0.1:0."""

    def __init__(self, ext: bool = True, behaviour=echo) -> None:
        self.frontend = FakeFrontend(behaviour)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=64))
        frontend_pb2_grpc.add_FrontendServicer_to_server(self.frontend, self.server)
        if ext:
            extensions_pb2_grpc.add_FrontendExtServicer_to_server(self.frontend, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop(0).wait()
