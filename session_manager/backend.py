"""flamepy.v1.Backend servicer: one bidirectional stream per executor manager (see backend.proto).

The reader half turns node messages into core events; the writer half sends the commands the core
queued for this node. Runs on the server's event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, TypeAlias

import grpc

from flamepy import _convert as conv
from flamepy.proto import backend_pb2 as be
from flamepy.proto import backend_pb2_grpc, shim_pb2
from flamepy.types import Shim
from session_manager import effects

if TYPE_CHECKING:
    from session_manager.server import NodeLink, SessionManager

log = logging.getLogger(__name__)
Ctx: TypeAlias = grpc.aio.ServicerContext


def command_pb(cmd: effects.Command) -> be.ManagerMessage:
    match cmd:
        case effects.InvokeCmd():
            task = shim_pb2.TaskContext(task_id=cmd.task_id, session_id=cmd.session_id)
            if cmd.input is not None:
                task.input = cmd.input
            return be.ManagerMessage(invoke_task=be.InvokeTask(executor_id=cmd.executor_id, task=task))
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
        from session_manager.server import NodeLink

        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("msg") != "register":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first node message must be register")
            return
        node = first.register.node
        name = node.metadata.name or node.metadata.id
        if not name:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "register: node name is empty")
            return
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
            while True:
                cmd = await link.queue.get()
                if cmd is None:
                    break
                yield command_pb(cmd)
        finally:
            reader.cancel()
            self.sm.detach(link)

    async def _read(self, link: NodeLink, request_iterator: AsyncIterator[be.NodeMessage]) -> None:
        try:
            async for msg in request_iterator:
                self._handle(link.name, msg)
        except (grpc.aio.AioRpcError, asyncio.CancelledError):
            pass
        except Exception:
            log.exception("node %s: error handling a message", link.name)
        finally:
            link.close()

    def _handle(self, node: str, msg: be.NodeMessage) -> None:
        kind = msg.WhichOneof("msg")
        sm, core = self.sm, self.core
        if kind == "task_result":
            r = msg.task_result
            sm.react(
                core.task_result,
                r.executor_id,
                r.session_id,
                r.task_id,
                r.return_code,
                r.output if r.HasField("output") else None,
                r.message if r.HasField("message") else None,
                r.requeue,
            )
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
