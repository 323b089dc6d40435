"""The one boundary between generated protobuf types and this package's dataclasses.

Backend stream messages (``flamepy.v1``) and the flame.v1 Instance messages used to drive a service
process are encoded and decoded here; nothing else in ``executor`` builds protobuf messages except
the test fake in ``executor.fake_launcher``.
"""

from __future__ import annotations

from executor.events import (
    BindFailed,
    BindRequest,
    CancelRequest,
    ExecOutput,
    ExecRequest,
    ExecStopRequest,
    ExecutorBound,
    HeartbeatTick,
    InboundMessage,
    LogData,
    OutboundMessage,
    ReadLogRequest,
    Registered,
    RegisterNode,
    ReleaseRequest,
    SessionContext,
    StatsData,
    StatsRequest,
    TaskOutcome,
    TaskRequest,
)
from flamepy.common.batches import batch_runs
from flamepy.common.convert import (
    app_attrs_from_pb,
    app_context_from_pb,
    app_context_to_pb,
    node_to_pb,
    resreq_from_pb,
)
from flamepy.common.probe_convert import chunk_to_pb, stats_to_pb
from flamepy.errors import InvalidArgumentError
from flamepy.proto import backend_pb2, shim_pb2, types_pb2


def _opt(msg, name: str):
    return getattr(msg, name) if msg.HasField(name) else None


# -- Backend stream: inbound -----------------------------------------------------------------


def decode_manager_messages(m: backend_pb2.ManagerMessage) -> list[InboundMessage]:
    """The message's requests in order: a batch (invoke_tasks) gives several, anything else one."""
    if m.WhichOneof("msg") == "invoke_tasks":
        return [_task_request(t) for t in m.invoke_tasks.tasks]
    return [decode_manager_message(m)]


def _task_request(t: backend_pb2.InvokeTask) -> TaskRequest:
    timeout = t.timeout_ms / 1000 if t.timeout_ms else None
    return TaskRequest(
        t.executor_id, t.task.task_id, t.task.session_id, _opt(t.task, "input"), t.attempt, timeout
    )


def decode_manager_message(m: backend_pb2.ManagerMessage) -> InboundMessage:
    kind = m.WhichOneof("msg")
    if kind == "registered":
        r = m.registered
        return Registered(r.node_name, r.frontend_endpoint, r.cache_endpoint)
    if kind == "bind_executor":
        b = m.bind_executor
        return BindRequest(
            executor_id=b.executor_id,
            application=b.application,
            spec=app_attrs_from_pb(b.spec),
            session=session_from_pb(b.session),
            resreq=resreq_from_pb(b.resreq),
            gpu_ids=tuple(b.gpu_ids),
        )
    if kind == "invoke_task":
        return _task_request(m.invoke_task)
    if kind == "release_executor":
        return ReleaseRequest(m.release_executor.executor_id)
    if kind == "cancel_task":
        c = m.cancel_task
        return CancelRequest(c.executor_id, c.session_id, c.task_id, c.attempt, c.reason or "cancelled")
    if kind == "read_log":
        r = m.read_log
        return ReadLogRequest(r.request_id, r.session_id, r.task_id, r.offset, r.max_bytes)
    if kind == "task_stats":
        return StatsRequest(m.task_stats.request_id, m.task_stats.session_id, m.task_stats.task_id)
    if kind == "exec_start":
        e = m.exec_start
        return ExecRequest(e.request_id, e.session_id, e.task_id, tuple(e.argv), e.timeout_s)
    if kind == "exec_stop":
        return ExecStopRequest(m.exec_stop.request_id)
    raise InvalidArgumentError(f"unknown ManagerMessage kind {kind!r}")


def session_from_pb(m: shim_pb2.SessionContext) -> SessionContext:
    return SessionContext(m.session_id, app_context_from_pb(m.application), _opt(m, "common_data"))


# -- Backend stream: outbound ----------------------------------------------------------------


def encode_node_messages(msgs: list[OutboundMessage]) -> list[backend_pb2.NodeMessage]:
    """``msgs`` in order, each run of consecutive task outcomes as one task_results batch."""
    return batch_runs(
        msgs,
        lambda msg: _outcome_to_pb(msg) if isinstance(msg, TaskOutcome) else None,
        encode_node_message,
        _outcomes_message,
    )


def _outcomes_message(run: list[backend_pb2.TaskOutcome]) -> backend_pb2.NodeMessage:
    if len(run) == 1:
        return backend_pb2.NodeMessage(task_result=run[0])
    return backend_pb2.NodeMessage(task_results=backend_pb2.TaskOutcomes(outcomes=run))


def encode_node_message(msg: OutboundMessage) -> backend_pb2.NodeMessage:
    if isinstance(msg, RegisterNode):
        reg = backend_pb2.RegisterNode(
            node=node_to_pb(msg.node), shims=[types_pb2.Shim.Name(int(s)) for s in msg.shims]
        )
        return backend_pb2.NodeMessage(register=reg)
    if isinstance(msg, HeartbeatTick):
        return backend_pb2.NodeMessage(heartbeat=backend_pb2.Heartbeat(time=msg.time_ms))
    if isinstance(msg, ExecutorBound):
        bound = backend_pb2.ExecutorBound(executor_id=msg.executor_id)
        return backend_pb2.NodeMessage(executor_bound=bound)
    if isinstance(msg, BindFailed):
        failed = backend_pb2.BindFailed(executor_id=msg.executor_id, message=msg.message)
        return backend_pb2.NodeMessage(bind_failed=failed)
    if isinstance(msg, TaskOutcome):
        return backend_pb2.NodeMessage(task_result=_outcome_to_pb(msg))
    if isinstance(msg, LogData):
        return backend_pb2.NodeMessage(log_data=_log_data_to_pb(msg))
    if isinstance(msg, StatsData | ExecOutput):
        return _probe_to_pb(msg)
    released = backend_pb2.ExecutorReleased(executor_id=msg.executor_id)
    if msg.message is not None:
        released.message = msg.message
    return backend_pb2.NodeMessage(executor_released=released)


def _probe_to_pb(msg: StatsData | ExecOutput) -> backend_pb2.NodeMessage:
    if isinstance(msg, StatsData):
        data = backend_pb2.StatsData(request_id=msg.request_id, not_found=msg.not_found, error=msg.error)
        if msg.stats is not None:
            data.stats.CopyFrom(stats_to_pb(msg.stats))
        return backend_pb2.NodeMessage(stats_data=data)
    out = backend_pb2.ExecOutput(
        request_id=msg.request_id,
        chunk=chunk_to_pb(msg.chunk),
        not_found=msg.not_found,
        not_running=msg.not_running,
        error=msg.error,
    )
    return backend_pb2.NodeMessage(exec_output=out)


def _log_data_to_pb(d: LogData) -> backend_pb2.LogData:
    return backend_pb2.LogData(
        request_id=d.request_id,
        data=d.data,
        offset=d.offset,
        next_offset=d.next_offset,
        eof=d.eof,
        size=d.size,
        not_found=d.not_found,
        error=d.error,
    )


def _outcome_to_pb(o: TaskOutcome) -> backend_pb2.TaskOutcome:
    m = backend_pb2.TaskOutcome(
        executor_id=o.executor_id,
        session_id=o.session_id,
        task_id=o.task_id,
        return_code=o.return_code,
        requeue=o.requeue,
        attempt=o.attempt,
        crashed=o.crashed,
        timed_out=o.timed_out,
        cancelled=o.cancelled,
        service_stopped=o.service_stopped,
    )
    if o.output is not None:
        m.output = o.output
    if o.message is not None:
        m.message = o.message
    return m


# -- flame.v1 Instance -----------------------------------------------------------------------


def session_to_pb(s: SessionContext) -> shim_pb2.SessionContext:
    m = shim_pb2.SessionContext(session_id=s.session_id, application=app_context_to_pb(s.application))
    if s.common_data is not None:
        m.common_data = s.common_data
    return m


def task_to_pb(t: TaskRequest) -> shim_pb2.TaskContext:
    m = shim_pb2.TaskContext(task_id=t.task_id, session_id=t.session_id)
    if t.input is not None:
        m.input = t.input
    return m


def result_from_pb(m: types_pb2.Result) -> tuple[int, str | None]:
    return m.return_code, _opt(m, "message")


def task_result_from_pb(m: types_pb2.TaskResult) -> tuple[int, bytes | None, str | None]:
    return m.return_code, _opt(m, "output"), _opt(m, "message")


def empty_request() -> types_pb2.EmptyRequest:
    return types_pb2.EmptyRequest()
