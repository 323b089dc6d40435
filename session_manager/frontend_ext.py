"""flamepy.v1.FrontendExt servicer: batch task creation, session-wide completions, create+wait."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, TypeAlias

import grpc

from flamepy.common import convert as conv
from flamepy.common.grpc_status import stream, unary
from flamepy.proto import extensions_pb2 as ext
from flamepy.proto import extensions_pb2_grpc
from flamepy.proto import types_pb2 as pb
from flamepy.types import SessionState, Task, TaskCompletion, TaskState
from session_manager.frontend import watch_task

if TYPE_CHECKING:
    from session_manager.server import SessionManager

Ctx: TypeAlias = grpc.aio.ServicerContext
MAX_COMPLETIONS_PER_MESSAGE = 512


def completion_pb(task: Task) -> ext.TaskCompletion:
    message = task.message if task.state != TaskState.SUCCEED else None
    return conv.completion_to_pb(TaskCompletion(task.id, task.state, task.output, message))


class FrontendExtServicer(extensions_pb2_grpc.FrontendExtServicer):
    def __init__(self, sm: SessionManager) -> None:
        self.sm = sm
        self.core = sm.broker

    @unary
    async def CreateTasks(self, request: ext.CreateTasksRequest, context: Ctx) -> ext.CreateTasksResponse:
        inputs = [i.input if i.HasField("input") else None for i in request.inputs]
        recs = await self.sm.call(self.core.create_tasks, request.session_id, inputs)
        return ext.CreateTasksResponse(task_ids=[r.task_id for r in recs])

    @stream
    async def WatchSession(
        self, request: ext.WatchSessionRequest, context: Ctx
    ) -> AsyncIterator[ext.SessionCompletions]:
        ses = self.core.get_session(request.session_id)
        if ses.state == SessionState.CLOSED and ses.unfinished == 0:
            return
        q = self.sm.watchers.watch_session(ses.id)
        # headers now: the client knows the watch is registered before it submits tasks
        await context.send_initial_metadata(())
        try:
            while True:
                item = await q.get()
                batch = []
                while item is not None:
                    batch.append(completion_pb(item))
                    if len(batch) >= MAX_COMPLETIONS_PER_MESSAGE or q.empty():
                        break
                    item = q.get_nowait()
                if batch:
                    yield ext.SessionCompletions(completions=batch)
                if item is None:
                    return
        finally:
            self.sm.watchers.unwatch_session(ses.id, q)

    @unary
    async def RunTask(self, request: ext.RunTaskRequest, context: Ctx) -> pb.Task:
        return conv.task_to_pb(await run_task(self.sm, request))

    @unary
    async def GetLocalEndpoint(self, request: ext.LocalEndpointRequest, context: Ctx) -> ext.LocalEndpoint:
        local = self.sm.local
        if local is None:
            return ext.LocalEndpoint()
        return ext.LocalEndpoint(path=str(local.path), token=local.token)


async def run_task(sm: SessionManager, request: ext.RunTaskRequest) -> Task:
    """Create one task and return its terminal state (RunTask, over gRPC or the local pipe)."""
    data = request.input if request.HasField("input") else None
    (rec,) = await sm.call(sm.broker.create_tasks, request.session_id, [data])
    final = None
    async for snap in watch_task(sm, request.session_id, rec.task_id):
        final = snap
    assert final is not None
    return final
