"""flame.v1.Frontend servicer: decode, call the broker, encode. Semantics: shared/spec/flame-v1-wire.md.

Client credentials are not checked here: they belong in one gRPC server interceptor (wired in
``server.py``) so every servicer stays decode → call → encode.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import TypeAlias

import grpc

from flamepy.common import convert as conv
from flamepy.common.grpc_status import details_of, status_of, stream, unary
from flamepy.errors import FlameError, InvalidArgumentError
from flamepy.proto import frontend_pb2 as fe
from flamepy.proto import frontend_pb2_grpc
from flamepy.proto import types_pb2 as pb
from flamepy.types import ApplicationAttributes
from session_manager import validate
from session_manager.broker import Broker
from session_manager.limits import Limits
from session_manager.model import SessionInfo

Ctx: TypeAlias = grpc.aio.ServicerContext
AppRequest: TypeAlias = fe.RegisterApplicationRequest | fe.UpdateApplicationRequest


def session_pb(ses: SessionInfo) -> pb.Session:
    return conv.session_to_pb(ses.attrs, ses.status)


async def _result(op: Awaitable[None]) -> pb.Result:
    """Application RPCs answer a Result: return_code 0, or the gRPC status code and a message."""
    try:
        await op
    except FlameError as exc:
        return pb.Result(return_code=status_of(exc).value[0], message=details_of(exc))
    return pb.Result(return_code=0)


def _app_spec(request: AppRequest, limits: Limits) -> ApplicationAttributes:
    validate.application_name(request.name)
    if not request.HasField("application"):
        raise InvalidArgumentError(f"application {request.name!r}: spec is missing")
    attrs = conv.app_attrs_from_pb(request.application)
    validate.application(request.name, attrs, limits)
    return attrs


class FrontendServicer(frontend_pb2_grpc.FrontendServicer):
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.limits = broker.config.limits

    def _ref(self, value: str, what: str) -> str:
        return validate.reference(value, what, self.limits)

    # -- applications ------------------------------------------------------------------------

    async def RegisterApplication(self, request: fe.RegisterApplicationRequest, context: Ctx) -> pb.Result:
        return await _result(self._register(request))

    async def _register(self, request: fe.RegisterApplicationRequest) -> None:
        await self.broker.register_application(request.name, _app_spec(request, self.limits))

    async def UnregisterApplication(
        self, request: fe.UnregisterApplicationRequest, context: Ctx
    ) -> pb.Result:
        return await _result(self._unregister(request.name))

    async def _unregister(self, name: str) -> None:
        await self.broker.unregister_application(self._ref(name, "name"))

    async def UpdateApplication(self, request: fe.UpdateApplicationRequest, context: Ctx) -> pb.Result:
        return await _result(self._update(request))

    async def _update(self, request: fe.UpdateApplicationRequest) -> None:
        await self.broker.update_application(request.name, _app_spec(request, self.limits))

    @unary
    async def GetApplication(self, request: fe.GetApplicationRequest, context: Ctx) -> pb.Application:
        return conv.application_to_pb(self.broker.get_application(self._ref(request.name, "name")))

    @unary
    async def ListApplication(self, request: fe.ListApplicationRequest, context: Ctx) -> pb.ApplicationList:
        return pb.ApplicationList(
            applications=[conv.application_to_pb(a) for a in self.broker.list_applications()]
        )

    # -- executors and nodes -----------------------------------------------------------------

    @unary
    async def ListExecutor(self, request: fe.ListExecutorRequest, context: Ctx) -> pb.ExecutorList:
        return pb.ExecutorList(executors=[conv.executor_to_pb(e) for e in self.broker.list_executors()])

    @unary
    async def ListNodes(self, request: fe.ListNodesRequest, context: Ctx) -> pb.NodeList:
        return pb.NodeList(nodes=[conv.node_to_pb(n) for n in self.broker.list_nodes()])

    @unary
    async def GetNode(self, request: fe.GetNodeRequest, context: Ctx) -> fe.GetNodeResponse:
        return fe.GetNodeResponse(node=conv.node_to_pb(self.broker.get_node(self._ref(request.name, "name"))))

    # -- sessions ----------------------------------------------------------------------------

    @unary
    async def CreateSession(self, request: fe.CreateSessionRequest, context: Ctx) -> pb.Session:
        if not request.HasField("session"):
            raise InvalidArgumentError(f"session {request.session_id!r}: spec is missing")
        attrs = conv.session_spec_from_pb(request.session_id, request.session)
        validate.session(attrs, self.limits)
        return session_pb(await self.broker.create_session(attrs))

    @unary
    async def OpenSession(self, request: fe.OpenSessionRequest, context: Ctx) -> pb.Session:
        attrs = None
        if request.HasField("session"):
            attrs = conv.session_spec_from_pb(request.session_id, request.session)
            validate.session(attrs, self.limits)
        return session_pb(await self.broker.open_session(self._ref(request.session_id, "session_id"), attrs))

    @unary
    async def CloseSession(self, request: fe.CloseSessionRequest, context: Ctx) -> pb.Session:
        return session_pb(await self.broker.close_session(self._ref(request.session_id, "session_id")))

    @unary
    async def DeleteSession(self, request: fe.DeleteSessionRequest, context: Ctx) -> pb.Session:
        return session_pb(await self.broker.delete_session(self._ref(request.session_id, "session_id")))

    @unary
    async def GetSession(self, request: fe.GetSessionRequest, context: Ctx) -> pb.Session:
        return session_pb(self.broker.get_session(self._ref(request.session_id, "session_id")))

    @unary
    async def ListSession(self, request: fe.ListSessionRequest, context: Ctx) -> pb.SessionList:
        return pb.SessionList(sessions=[session_pb(s) for s in self.broker.list_sessions()])

    # -- tasks -------------------------------------------------------------------------------

    @unary
    async def CreateTask(self, request: fe.CreateTaskRequest, context: Ctx) -> pb.Task:
        spec = request.task
        validate.task_request(spec.session_id, 1, self.limits)
        data = spec.input if spec.HasField("input") else None
        return conv.task_to_pb(await self.broker.create_task(spec.session_id, data))

    @unary
    async def GetTask(self, request: fe.GetTaskRequest, context: Ctx) -> pb.Task:
        sid = self._ref(request.session_id, "session_id")
        return conv.task_to_pb(self.broker.get_task(sid, request.task_id))

    @stream
    async def WatchTask(self, request: fe.WatchTaskRequest, context: Ctx) -> AsyncIterator[pb.Task]:
        sid = self._ref(request.session_id, "session_id")
        async for task in self.broker.watch_task(sid, request.task_id):
            yield conv.task_to_pb(task)

    @stream
    async def ListTask(self, request: fe.ListTaskRequest, context: Ctx) -> AsyncIterator[pb.Task]:
        for task in self.broker.list_tasks(self._ref(request.session_id, "session_id")):
            yield conv.task_to_pb(task)
