"""flame.v1.Frontend servicer: decode, call the core, encode. Semantics: shared/spec/flame-v1-wire.md."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING, TypeAlias

import grpc

from flamepy.common import convert as conv
from flamepy.common.grpc_status import status_of, stream, unary
from flamepy.errors import FlameError, InvalidArgumentError, NotFoundError
from flamepy.proto import frontend_pb2 as fe
from flamepy.proto import frontend_pb2_grpc
from flamepy.proto import types_pb2 as pb
from flamepy.types import Task
from session_manager.model import SessionRecord

if TYPE_CHECKING:
    from session_manager.server import SessionManager

Ctx: TypeAlias = grpc.aio.ServicerContext


def session_pb(ses: SessionRecord) -> pb.Session:
    return conv.session_to_pb(replace(ses.attrs, id=ses.id), ses.status())


async def _result(op) -> pb.Result:
    """Application RPCs answer a Result: return_code 0, or the gRPC status code and a message."""
    try:
        await op
    except FlameError as exc:
        return pb.Result(return_code=status_of(exc).value[0], message=exc.message)
    return pb.Result(return_code=0)


def _app_spec(request) -> object:
    if not request.HasField("application"):
        raise InvalidArgumentError(f"application {request.name!r}: spec is missing")
    return conv.app_attrs_from_pb(request.application)


class FrontendServicer(frontend_pb2_grpc.FrontendServicer):
    def __init__(self, sm: SessionManager) -> None:
        self.sm = sm
        self.core = sm.broker

    # -- applications ------------------------------------------------------------------------

    async def RegisterApplication(self, request: fe.RegisterApplicationRequest, context: Ctx) -> pb.Result:
        return await _result(self._register(request))

    async def _register(self, request: fe.RegisterApplicationRequest) -> None:
        await self.sm.call(self.core.register_application, request.name, _app_spec(request))

    async def UnregisterApplication(
        self, request: fe.UnregisterApplicationRequest, context: Ctx
    ) -> pb.Result:
        return await _result(self.sm.call(self.core.unregister_application, request.name))

    async def UpdateApplication(self, request: fe.UpdateApplicationRequest, context: Ctx) -> pb.Result:
        return await _result(self._update(request))

    async def _update(self, request: fe.UpdateApplicationRequest) -> None:
        await self.sm.call(self.core.update_application, request.name, _app_spec(request))

    @unary
    async def GetApplication(self, request: fe.GetApplicationRequest, context: Ctx) -> pb.Application:
        return conv.application_to_pb(self.core.get_application(request.name).snapshot())

    @unary
    async def ListApplication(self, request: fe.ListApplicationRequest, context: Ctx) -> pb.ApplicationList:
        apps = sorted(self.core.apps.values(), key=lambda a: (a.creation_time, a.name))
        return pb.ApplicationList(applications=[conv.application_to_pb(a.snapshot()) for a in apps])

    # -- executors and nodes -----------------------------------------------------------------

    @unary
    async def ListExecutor(self, request: fe.ListExecutorRequest, context: Ctx) -> pb.ExecutorList:
        return pb.ExecutorList(
            executors=[conv.executor_to_pb(e.snapshot()) for e in self.core.executors.values()]
        )

    @unary
    async def ListNodes(self, request: fe.ListNodesRequest, context: Ctx) -> pb.NodeList:
        return pb.NodeList(nodes=[conv.node_to_pb(n.snapshot()) for n in self.core.nodes.values()])

    @unary
    async def GetNode(self, request: fe.GetNodeRequest, context: Ctx) -> fe.GetNodeResponse:
        node = self.core.nodes.get(request.name)
        if node is None:
            raise NotFoundError(f"node {request.name!r} not found")
        return fe.GetNodeResponse(node=conv.node_to_pb(node.snapshot()))

    # -- sessions ----------------------------------------------------------------------------

    @unary
    async def CreateSession(self, request: fe.CreateSessionRequest, context: Ctx) -> pb.Session:
        if not request.HasField("session"):
            raise InvalidArgumentError(f"session {request.session_id!r}: spec is missing")
        attrs = conv.session_spec_from_pb(request.session_id, request.session)
        return session_pb(await self.sm.call(self.core.create_session, attrs))

    @unary
    async def OpenSession(self, request: fe.OpenSessionRequest, context: Ctx) -> pb.Session:
        attrs = None
        if request.HasField("session"):
            attrs = conv.session_spec_from_pb(request.session_id, request.session)
        return session_pb(await self.sm.call(self.core.open_session, request.session_id, attrs))

    @unary
    async def CloseSession(self, request: fe.CloseSessionRequest, context: Ctx) -> pb.Session:
        return session_pb(await self.sm.call(self.core.close_session, request.session_id))

    @unary
    async def DeleteSession(self, request: fe.DeleteSessionRequest, context: Ctx) -> pb.Session:
        return session_pb(await self.sm.call(self.core.delete_session, request.session_id))

    @unary
    async def GetSession(self, request: fe.GetSessionRequest, context: Ctx) -> pb.Session:
        return session_pb(self.core.get_session(request.session_id))

    @unary
    async def ListSession(self, request: fe.ListSessionRequest, context: Ctx) -> pb.SessionList:
        return pb.SessionList(sessions=[session_pb(s) for s in self.core.sessions.values()])

    # -- tasks -------------------------------------------------------------------------------

    @unary
    async def CreateTask(self, request: fe.CreateTaskRequest, context: Ctx) -> pb.Task:
        spec = request.task
        data = spec.input if spec.HasField("input") else None
        (rec,) = await self.sm.call(self.core.create_tasks, spec.session_id, [data])
        return conv.task_to_pb(rec.snapshot())

    @unary
    async def GetTask(self, request: fe.GetTaskRequest, context: Ctx) -> pb.Task:
        return conv.task_to_pb(self.sm.task(request.session_id, request.task_id))

    @stream
    async def WatchTask(self, request: fe.WatchTaskRequest, context: Ctx) -> AsyncIterator[pb.Task]:
        async for task in watch_task(self.sm, request.session_id, request.task_id):
            yield conv.task_to_pb(task)

    @stream
    async def ListTask(self, request: fe.ListTaskRequest, context: Ctx) -> AsyncIterator[pb.Task]:
        for task in self.sm.tasks(request.session_id):
            yield conv.task_to_pb(task)


async def watch_task(sm: SessionManager, sid: str, tid: str) -> AsyncIterator[Task]:
    """Every state change of one task; ends right after its terminal state."""
    rec = sm.broker.find_task(sid, tid)
    if rec is None:  # finished: its final state is in storage
        yield sm.task(sid, tid)
        return
    q = sm.watchers.watch_task(sid, rec.task_id)
    try:
        last = rec.snapshot()
        yield last
        while not last.state.is_terminal:
            nxt = await q.get()
            if nxt.state == last.state and len(nxt.events) == len(last.events):
                continue
            last = nxt
            yield last
    finally:
        sm.watchers.unwatch_task(sid, rec.task_id, q)
