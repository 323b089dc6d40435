"""flamepy.v1.Backend servicer: one bidirectional stream per executor manager (see backend.proto),
over gRPC or over the local pipe (session_manager/local.py), which share :meth:`node_stream`.

The reader half turns node messages into core events; the writer half sends the commands the core
queued for this node. Runs on the server's event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, TypeAlias

import grpc

from flamepy.common import convert as conv
from flamepy.common.batches import batch_runs
from flamepy.common.taskpipe import PipeError
from flamepy.errors import InvalidArgumentError
from flamepy.proto import backend_pb2 as be
from flamepy.proto import backend_pb2_grpc, shim_pb2
from flamepy.types import Shim
from session_manager import effects

if TYPE_CHECKING:
    from session_manager.core import Broker
    from session_manager.server import NodeLink, SessionManager

log = logging.getLogger(__name__)
Ctx: TypeAlias = grpc.aio.ServicerContext


def commands_pb(cmds: list[effects.Command]) -> list[be.ManagerMessage]:
    """``cmds`` in order, each run of consecutive task pushes as one invoke_tasks batch."""
    return batch_runs(
        cmds,
        lambda cmd: _invoke_pb(cmd) if isinstance(cmd, effects.InvokeCmd) else None,
        command_pb,
        _invokes_message,
    )


def _invoke_pb(cmd: effects.InvokeCmd) -> be.InvokeTask:
    task = shim_pb2.TaskContext(task_id=cmd.task_id, session_id=cmd.session_id)
    if cmd.input is not None:
        task.input = cmd.input
    return be.InvokeTask(executor_id=cmd.executor_id, task=task)


def _invokes_message(run: list[be.InvokeTask]) -> be.ManagerMessage:
    if len(run) == 1:
        return be.ManagerMessage(invoke_task=run[0])
    return be.ManagerMessage(invoke_tasks=be.InvokeTasks(tasks=run))


def command_pb(cmd: effects.Command) -> be.ManagerMessage:
    match cmd:
        case effects.InvokeCmd():
            return be.ManagerMessage(invoke_task=_invoke_pb(cmd))
        case effects.BindCmd():
            spec = conv.app_attrs_to_pb(cmd.app.attributes)
            app_ctx = shim_pb2.ApplicationContext(name=cmd.app.name, shim=spec.shim)
            for name in ("image", "command", "working_directory", "url", "installer"):
                if spec.HasField(name):
                    setattr(app_ctx, name, getattr(spec, name))
            session = shim_pb2.SessionContext(session_id=cmd.session_id, application=app_ctx)
            if cmd.common_data is not None:
                session.common_data = cmd.common_data
            bind = be.BindExecutor(
                executor_id=cmd.executor_id,
                application=cmd.app.name,
                spec=spec,
                session=session,
                resreq=conv.resreq_to_pb(cmd.resreq),
                gpu_ids=list(cmd.gpu_ids),
            )
            return be.ManagerMessage(bind_executor=bind)
        case effects.ReleaseCmd():
            return be.ManagerMessage(release_executor=be.ReleaseExecutor(executor_id=cmd.executor_id))
    raise TypeError(f"unknown command {cmd!r}")


class BackendServicer(backend_pb2_grpc.BackendServicer):
    def __init__(self, sm: SessionManager) -> None:
        self.sm = sm
        self.core = sm.broker

    async def Attach(
        self, request_iterator: AsyncIterator[be.NodeMessage], context: Ctx
    ) -> AsyncIterator[be.ManagerMessage]:
        try:
            async for msg in self.node_stream(request_iterator):
                yield msg
        except InvalidArgumentError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.message)

    async def node_stream(
        self, request_iterator: AsyncIterator[be.NodeMessage]
    ) -> AsyncIterator[be.ManagerMessage]:
        """One executor manager's stream, whatever carries it (gRPC Attach or the local pipe)."""
        from session_manager.server import NodeLink

        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("msg") != "register":
            raise InvalidArgumentError("the first node message must be register")
        node = first.register.node
        name = node.metadata.name or node.metadata.id
        if not name:
            raise InvalidArgumentError("register: node name is empty")
        link = NodeLink(name)
        self.sm.attach(link)
        self.sm.react(
            self.core.node_registered,
            name,
            conv.resreq_from_pb(node.status.capacity),
            [Shim(s) for s in first.register.shims],
            node.spec.hostname,
            node.status.info.arch,
            node.status.info.os,
        )
        yield be.ManagerMessage(
            registered=be.NodeRegistered(
                node_name=name,
                frontend_endpoint=self.sm.frontend_endpoint,
                cache_endpoint=self.sm.config.cache_endpoint or "",
            )
        )
        reader = asyncio.create_task(self._read(link, request_iterator), name=f"node-{name}")
        try:
            while (ready := await link.next_batch()) is not None:
                for msg in commands_pb(ready):
                    yield msg
        finally:
            reader.cancel()
            self.sm.detach(link)

    async def _read(self, link: NodeLink, request_iterator: AsyncIterator[be.NodeMessage]) -> None:
        try:
            async for msg in request_iterator:
                self._handle(link.name, msg)
        except (grpc.aio.AioRpcError, asyncio.CancelledError, PipeError):
            pass
        except Exception:
            log.exception("node %s: error handling a message", link.name)
        finally:
            link.close()

    def _handle(self, node: str, msg: be.NodeMessage) -> None:
        kind = msg.WhichOneof("msg")
        sm, core = self.sm, self.core
        if kind == "task_result":
            sm.react(_apply_outcomes, core, [msg.task_result])
        elif kind == "task_results":
            sm.react(_apply_outcomes, core, msg.task_results.outcomes)
        elif kind == "executor_bound":
            sm.react(core.executor_bound, msg.executor_bound.executor_id)
        elif kind == "bind_failed":
            sm.react(core.bind_failed, msg.bind_failed.executor_id, msg.bind_failed.message)
        elif kind == "executor_released":
            r = msg.executor_released
            sm.react(core.executor_released, r.executor_id, r.message if r.HasField("message") else None)
        elif kind == "heartbeat":
            core.node_heartbeat(node)
        else:
            log.warning("node %s sent unexpected %s", node, kind)


def _apply_outcomes(core: Broker, outcomes: Iterable[be.TaskOutcome]) -> None:
    for r in outcomes:
        core.task_result(
            r.executor_id,
            r.session_id,
            r.task_id,
            r.return_code,
            r.output if r.HasField("output") else None,
            r.message if r.HasField("message") else None,
            r.requeue,
        )
