"""The Backend stream's boundary: ``flamepy.v1`` Backend messages ↔ our events and commands.

Inbound node messages become typed events (``session_manager.events``); the commands the core
emits (``session_manager.effects``) become ManagerMessages, consecutive task pushes batched into
one ``invoke_tasks``. The counterpart of ``executor.convert`` on the other end of the stream.
A new node message or command is one more branch here (and an event or command dataclass).
"""

from __future__ import annotations

from flamepy.common import convert as conv
from flamepy.common.batches import batch_runs
from flamepy.common.probe_convert import chunk_from_pb, stats_from_pb
from flamepy.errors import InvalidArgumentError
from flamepy.proto import backend_pb2 as be
from flamepy.proto import shim_pb2
from flamepy.types import Shim
from session_manager import effects, events

_APP_CONTEXT_FIELDS = ("image", "command", "working_directory", "url", "installer")


def _opt(msg, name: str):
    return getattr(msg, name) if msg.HasField(name) else None


# -- inbound -------------------------------------------------------------------------------------


def register_from_pb(msg: be.NodeMessage | None) -> events.NodeRegistered:
    """The stream's first message, which must register the node."""
    if msg is None or msg.WhichOneof("msg") != "register":
        raise InvalidArgumentError("the first node message must be register")
    node = msg.register.node
    name = node.metadata.name or node.metadata.id
    if not name:
        raise InvalidArgumentError("register: node name is empty")
    return events.NodeRegistered(
        node=name,
        capacity=conv.resreq_from_pb(node.status.capacity),
        shims=tuple(Shim(s) for s in msg.register.shims),
        hostname=node.spec.hostname,
        arch=node.status.info.arch,
        os=node.status.info.os,
    )


def _outcome(r: be.TaskOutcome) -> events.TaskOutcome:
    return events.TaskOutcome(
        r.executor_id,
        r.session_id,
        r.task_id,
        r.return_code,
        r.output if r.HasField("output") else None,
        r.message if r.HasField("message") else None,
        r.requeue,
        r.attempt,
        r.crashed,
        r.timed_out,
        r.cancelled,
        r.service_stopped,
    )


def node_event_from_pb(node: str, msg: be.NodeMessage) -> events.NodeEvent | None:
    """The event a message from ``node`` stands for; None for a kind this side does not know."""
    kind = msg.WhichOneof("msg")
    if kind == "task_result":
        return events.TaskResults(node, (_outcome(msg.task_result),))
    if kind == "task_results":
        return events.TaskResults(node, [_outcome(r) for r in msg.task_results.outcomes])
    if kind == "executor_bound":
        return events.ExecutorBound(node, msg.executor_bound.executor_id)
    if kind == "bind_failed":
        return events.BindFailed(node, msg.bind_failed.executor_id, msg.bind_failed.message)
    if kind == "executor_released":
        r = msg.executor_released
        return events.ExecutorReleased(node, r.executor_id, _opt(r, "message"))
    if kind == "heartbeat":
        return events.NodeHeartbeat(node)
    return None


def node_reply_from_pb(msg: be.NodeMessage) -> events.NodeReply | None:
    """The node's answer to a request of the shell (log read, stats, exec), or None when ``msg``
    is something else."""
    kind = msg.WhichOneof("msg")
    if kind == "log_data":
        d = msg.log_data
        return events.NodeLogReply(
            d.request_id, d.data, d.offset, d.next_offset, d.eof, d.size, d.not_found, d.error
        )
    if kind == "stats_data":
        s = msg.stats_data
        stats = stats_from_pb(s.stats) if s.HasField("stats") else None
        return events.NodeStatsReply(s.request_id, stats, s.not_found, s.error)
    if kind == "exec_output":
        o = msg.exec_output
        return events.NodeExecReply(o.request_id, chunk_from_pb(o.chunk), o.not_found, o.not_running, o.error)
    return None


# -- outbound ------------------------------------------------------------------------------------


def registered_pb(name: str, frontend_endpoint: str, cache_endpoint: str) -> be.ManagerMessage:
    return be.ManagerMessage(
        registered=be.NodeRegistered(
            node_name=name, frontend_endpoint=frontend_endpoint, cache_endpoint=cache_endpoint
        )
    )


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
    timeout_ms = max(1, round(cmd.timeout * 1000)) if cmd.timeout is not None else 0
    return be.InvokeTask(executor_id=cmd.executor_id, task=task, attempt=cmd.attempt, timeout_ms=timeout_ms)


def _invokes_message(run: list[be.InvokeTask]) -> be.ManagerMessage:
    if len(run) == 1:
        return be.ManagerMessage(invoke_task=run[0])
    return be.ManagerMessage(invoke_tasks=be.InvokeTasks(tasks=run))


def command_pb(cmd: effects.Command) -> be.ManagerMessage:
    match cmd:
        case effects.InvokeCmd():
            return be.ManagerMessage(invoke_task=_invoke_pb(cmd))
        case effects.BindCmd():
            return be.ManagerMessage(bind_executor=_bind_pb(cmd))
        case effects.ReleaseCmd():
            return be.ManagerMessage(release_executor=be.ReleaseExecutor(executor_id=cmd.executor_id))
        case effects.CancelCmd():
            cancel = be.CancelTask(
                executor_id=cmd.executor_id,
                session_id=cmd.session_id,
                task_id=cmd.task_id,
                attempt=cmd.attempt,
                reason=cmd.reason,
            )
            return be.ManagerMessage(cancel_task=cancel)
        case effects.ReadLogCmd():
            read = be.ReadLog(
                request_id=cmd.request_id,
                session_id=cmd.session_id,
                task_id=cmd.task_id,
                offset=cmd.offset,
                max_bytes=cmd.max_bytes,
            )
            return be.ManagerMessage(read_log=read)
        case effects.StatsCmd():
            probe = be.TaskStatsProbe(request_id=cmd.request_id, session_id=cmd.session_id)
            probe.task_id = cmd.task_id
            return be.ManagerMessage(task_stats=probe)
        case effects.ExecCmd():
            start = be.ExecStart(
                request_id=cmd.request_id,
                session_id=cmd.session_id,
                task_id=cmd.task_id,
                argv=list(cmd.argv),
                timeout_s=cmd.timeout_s,
            )
            return be.ManagerMessage(exec_start=start)
        case effects.ExecStopCmd():
            return be.ManagerMessage(exec_stop=be.ExecStop(request_id=cmd.request_id))
    raise TypeError(f"unknown command {cmd!r}")


def _bind_pb(cmd: effects.BindCmd) -> be.BindExecutor:
    spec = conv.app_attrs_to_pb(cmd.app.attributes)
    app_ctx = shim_pb2.ApplicationContext(name=cmd.app.name, shim=spec.shim)
    for name in _APP_CONTEXT_FIELDS:
        if spec.HasField(name):
            setattr(app_ctx, name, getattr(spec, name))
    session = shim_pb2.SessionContext(session_id=cmd.session_id, application=app_ctx)
    if cmd.common_data is not None:
        session.common_data = cmd.common_data
    return be.BindExecutor(
        executor_id=cmd.executor_id,
        application=cmd.app.name,
        spec=spec,
        session=session,
        resreq=conv.resreq_to_pb(cmd.resreq),
        gpu_ids=list(cmd.gpu_ids),
    )
