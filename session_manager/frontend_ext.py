"""flamepy.v1.FrontendExt servicer: batch task creation, session-wide completions, create+wait,
retry policies (with task timeouts), cancelling a task, reading a job task's log, a running job
task's stats and a command run beside it.

Decode, call the broker, encode. New job RPCs (task logs, cancelling a running task) go here as
methods on the proto's FrontendExt service, each calling one new broker method.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc

from flamepy.common import convert as conv
from flamepy.common.grpc_status import stream, unary
from flamepy.common.probe_convert import chunk_to_pb, stats_to_pb
from flamepy.proto import extensions_pb2 as ext
from flamepy.proto import extensions_pb2_grpc
from flamepy.proto import types_pb2 as pb
from flamepy.types import Task, TaskCompletion, TaskState
from session_manager import events, validate
from session_manager.broker import Broker

Ctx: TypeAlias = grpc.aio.ServicerContext
MAX_COMPLETIONS_PER_MESSAGE = 512


def completion_pb(task: Task) -> ext.TaskCompletion:
    message = task.message if task.state != TaskState.SUCCEED else None
    return conv.completion_to_pb(TaskCompletion(task.id, task.state, task.output, message))


class FrontendExtServicer(extensions_pb2_grpc.FrontendExtServicer):
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.limits = broker.config.limits

    @unary
    async def CreateTasks(self, request: ext.CreateTasksRequest, context: Ctx) -> ext.CreateTasksResponse:
        validate.task_request(request.session_id, len(request.inputs), self.limits)
        inputs = [i.input if i.HasField("input") else None for i in request.inputs]
        keys = [i.idempotency_key or None for i in request.inputs]
        if any(keys):
            ids = await self.broker.create_keyed_tasks(request.session_id, inputs, keys)
        else:
            ids = await self.broker.create_tasks(request.session_id, inputs)
        return ext.CreateTasksResponse(task_ids=ids)

    @stream
    async def WatchSession(
        self, request: ext.WatchSessionRequest, context: Ctx
    ) -> AsyncIterator[ext.SessionCompletions]:
        watch = self.broker.watch_session(validate.reference(request.session_id, "session_id", self.limits))
        if watch is None:
            return
        with watch:
            # headers now: the client knows the watch is registered before it submits tasks
            await context.send_initial_metadata(())
            async for batch in watch.batches(MAX_COMPLETIONS_PER_MESSAGE):
                yield ext.SessionCompletions(completions=[completion_pb(t) for t in batch])

    @unary
    async def RunTask(self, request: ext.RunTaskRequest, context: Ctx) -> pb.Task:
        validate.task_request(request.session_id, 1, self.limits)
        data = request.input if request.HasField("input") else None
        key = request.idempotency_key or None
        return conv.task_to_pb(await self.broker.run_task(request.session_id, data, key))

    @unary
    async def GetLocalEndpoint(self, request: ext.LocalEndpointRequest, context: Ctx) -> ext.LocalEndpoint:
        local = self.broker.endpoints.local
        if local is None:
            return ext.LocalEndpoint()
        return ext.LocalEndpoint(path=str(local.path), token=local.token)

    @unary
    async def SetRetryPolicy(self, request: ext.SetRetryPolicyRequest, context: Ctx) -> ext.RetryPolicy:
        kind = "session" if request.WhichOneof("target") == "session_id" else "application"
        name = request.session_id if kind == "session" else request.application
        retries = request.max_retries if request.HasField("max_retries") else None
        on_error = request.retry_on_error if request.HasField("retry_on_error") else None
        timeout = request.task_timeout_s if request.HasField("task_timeout_s") else None
        policy = await self.broker.set_retry_policy(kind, name, retries, on_error, timeout)
        return conv.retry_policy_to_pb(policy)

    @unary
    async def SetSessionPlacement(
        self, request: ext.SetSessionPlacementRequest, context: Ctx
    ) -> ext.SessionPlacement:
        sid = validate.reference(request.session_id, "session_id", self.limits)
        spread = await self.broker.apply(events.SetSessionPlacement(sid, request.spread))
        return ext.SessionPlacement(spread=spread)

    @unary
    async def CancelTask(self, request: ext.CancelTaskRequest, context: Ctx) -> pb.Task:
        sid = validate.reference(request.session_id, "session_id", self.limits)
        reason = validate.cancel_reason(request.reason if request.HasField("reason") else None)
        return conv.task_to_pb(await self.broker.cancel_task(sid, request.task_id, reason))

    @unary
    async def ReadTaskLog(self, request: ext.ReadTaskLogRequest, context: Ctx) -> ext.TaskLogChunk:
        sid = validate.reference(request.session_id, "session_id", self.limits)
        size = validate.log_chunk_size(request.max_bytes, self.limits)
        chunk = await self.broker.read_task_log(sid, request.task_id, request.offset, size)
        return conv.log_chunk_to_pb(chunk)

    @unary
    async def GetTaskStats(self, request: ext.TaskStatsRequest, context: Ctx) -> ext.TaskStats:
        sid = validate.reference(request.session_id, "session_id", self.limits)
        return stats_to_pb(await self.broker.task_stats(sid, request.task_id))

    @stream
    async def ExecInTask(self, request: ext.ExecInTaskRequest, context: Ctx) -> AsyncIterator[ext.ExecChunk]:
        sid = validate.reference(request.session_id, "session_id", self.limits)
        argv, timeout_s = validate.exec_request(request.argv, request.timeout_s)
        chunks = self.broker.exec_in_task(sid, request.task_id, argv, timeout_s)
        async with contextlib.aclosing(chunks):  # a cancelled call kills the command at once
            async for chunk in chunks:
                yield chunk_to_pb(chunk)
