"""The one boundary between generated protobuf types and our dataclasses (client and servers)."""

from __future__ import annotations

from typing import Protocol

from flamepy.proto import extensions_pb2 as ext_pb
from flamepy.proto import shim_pb2
from flamepy.proto import types_pb2 as pb
from flamepy.tasklog import TaskLogChunk
from flamepy.types import (
    Application,
    ApplicationAttributes,
    ApplicationContext,
    ApplicationSchema,
    ApplicationState,
    Event,
    Executor,
    ExecutorState,
    Node,
    NodeState,
    ResourceRequirement,
    RetryPolicy,
    SessionAttributes,
    SessionState,
    SessionStatus,
    Shim,
    Task,
    TaskCompletion,
    TaskState,
)


def _opt(msg, name: str):
    return getattr(msg, name) if msg.HasField(name) else None


# -- resources -------------------------------------------------------------------------------


def resreq_to_pb(r: ResourceRequirement) -> pb.ResourceRequirement:
    return pb.ResourceRequirement(cpu=r.cpu, memory=r.memory, gpu=r.gpu)


def resreq_from_pb(m: pb.ResourceRequirement) -> ResourceRequirement:
    return ResourceRequirement(cpu=m.cpu, memory=m.memory, gpu=m.gpu)


# -- events ----------------------------------------------------------------------------------


def event_to_pb(e: Event) -> pb.Event:
    m = pb.Event(code=e.code, creation_time=e.creation_time)
    if e.message is not None:
        m.message = e.message
    return m


def event_from_pb(m: pb.Event) -> Event:
    return Event(code=m.code, message=_opt(m, "message"), creation_time=m.creation_time)


# -- applications ----------------------------------------------------------------------------


def app_attrs_to_pb(a: ApplicationAttributes) -> pb.ApplicationSpec:
    m = pb.ApplicationSpec(shim=int(a.shim or Shim.HOST))
    for name in ("description", "image", "command", "working_directory", "url", "installer"):
        value = getattr(a, name)
        if value is not None:
            setattr(m, name, value)
    if a.max_instances is not None:
        m.max_instances = a.max_instances
    if a.delay_release is not None:
        m.delay_release = a.delay_release
    m.labels.extend(a.labels or [])
    m.arguments.extend(a.arguments or [])
    for key, value in (a.environments or {}).items():
        m.environments.add(name=key, value=value)
    if a.schema is not None:
        m.schema.SetInParent()
        for name in ("input", "output", "common_data"):
            value = getattr(a.schema, name)
            if value is not None:
                setattr(m.schema, name, value)
    return m


def app_attrs_from_pb(m: pb.ApplicationSpec) -> ApplicationAttributes:
    schema = None
    if m.HasField("schema"):
        schema = ApplicationSchema(
            input=_opt(m.schema, "input"),
            output=_opt(m.schema, "output"),
            common_data=_opt(m.schema, "common_data"),
        )
    return ApplicationAttributes(
        shim=Shim(m.shim),
        image=_opt(m, "image"),
        description=_opt(m, "description"),
        labels=list(m.labels),
        command=_opt(m, "command"),
        arguments=list(m.arguments),
        environments={e.name: e.value for e in m.environments},
        working_directory=_opt(m, "working_directory"),
        max_instances=_opt(m, "max_instances"),
        delay_release=_opt(m, "delay_release"),
        schema=schema,
        url=_opt(m, "url"),
        installer=_opt(m, "installer"),
    )


def application_to_pb(a: Application) -> pb.Application:
    return pb.Application(
        metadata=pb.Metadata(id=a.name, name=a.name),
        spec=app_attrs_to_pb(a.attributes),
        status=pb.ApplicationStatus(state=int(a.state), creation_time=a.creation_time),
    )


def application_from_pb(m: pb.Application) -> Application:
    return Application(
        name=m.metadata.name or m.metadata.id,
        attributes=app_attrs_from_pb(m.spec),
        state=ApplicationState(m.status.state),
        creation_time=m.status.creation_time,
    )


_APP_CONTEXT_OPTIONAL = ("image", "command", "working_directory", "url", "installer")


def app_context_to_pb(a: ApplicationContext) -> shim_pb2.ApplicationContext:
    """flame.v1 ApplicationContext (Instance.OnSessionEnter); unset optionals stay absent."""
    m = shim_pb2.ApplicationContext(name=a.name, shim=int(a.shim))
    for name in _APP_CONTEXT_OPTIONAL:
        value = getattr(a, name)
        if value is not None:
            setattr(m, name, value)
    return m


def app_context_from_pb(m: shim_pb2.ApplicationContext) -> ApplicationContext:
    optional = {name: _opt(m, name) for name in _APP_CONTEXT_OPTIONAL}
    return ApplicationContext(name=m.name, shim=Shim(m.shim), **optional)


# -- sessions --------------------------------------------------------------------------------


def session_spec_to_pb(s: SessionAttributes) -> pb.SessionSpec:
    m = pb.SessionSpec(
        application=s.application,
        min_instances=s.min_instances,
        batch_size=s.batch_size,
        priority=s.priority,
    )
    if s.common_data is not None:
        m.common_data = s.common_data
    if s.max_instances is not None:
        m.max_instances = s.max_instances
    if s.resreq is not None:
        m.resreq.CopyFrom(resreq_to_pb(s.resreq))
    return m


def session_spec_from_pb(session_id: str | None, m: pb.SessionSpec) -> SessionAttributes:
    return SessionAttributes(
        application=m.application,
        id=session_id,
        common_data=_opt(m, "common_data"),
        min_instances=m.min_instances,
        max_instances=_opt(m, "max_instances"),
        batch_size=m.batch_size,
        priority=m.priority,
        resreq=resreq_from_pb(m.resreq) if m.HasField("resreq") else None,
    )


def session_status_to_pb(s: SessionStatus) -> pb.SessionStatus:
    m = pb.SessionStatus(
        state=int(s.state),
        creation_time=s.creation_time,
        pending=s.pending,
        running=s.running,
        succeed=s.succeed,
        failed=s.failed,
        cancelled=s.cancelled,
        events=[event_to_pb(e) for e in s.events],
    )
    if s.completion_time is not None:
        m.completion_time = s.completion_time
    return m


def session_status_from_pb(m: pb.SessionStatus) -> SessionStatus:
    return SessionStatus(
        state=SessionState(m.state),
        creation_time=m.creation_time,
        completion_time=_opt(m, "completion_time"),
        pending=m.pending,
        running=m.running,
        succeed=m.succeed,
        failed=m.failed,
        cancelled=m.cancelled,
        events=tuple(event_from_pb(e) for e in m.events),
    )


def session_to_pb(attrs: SessionAttributes, status: SessionStatus) -> pb.Session:
    sid = attrs.id or ""
    return pb.Session(
        metadata=pb.Metadata(id=sid, name=sid),
        spec=session_spec_to_pb(attrs),
        status=session_status_to_pb(status),
    )


def session_from_pb(m: pb.Session) -> tuple[SessionAttributes, SessionStatus]:
    return session_spec_from_pb(m.metadata.id, m.spec), session_status_from_pb(m.status)


# -- tasks -----------------------------------------------------------------------------------


def task_to_pb(t: Task) -> pb.Task:
    m = pb.Task(
        metadata=pb.Metadata(id=t.id, name=t.id),
        spec=pb.TaskSpec(session_id=t.session_id),
        status=pb.TaskStatus(
            state=int(t.state),
            creation_time=t.creation_time,
            events=[event_to_pb(e) for e in t.events],
        ),
    )
    if t.input is not None:
        m.spec.input = t.input
    if t.output is not None:
        m.spec.output = t.output
    if t.completion_time is not None:
        m.status.completion_time = t.completion_time
    return m


def task_from_pb(m: pb.Task) -> Task:
    return Task(
        id=m.metadata.id,
        session_id=m.spec.session_id,
        state=TaskState(m.status.state),
        input=_opt(m.spec, "input"),
        output=_opt(m.spec, "output"),
        creation_time=m.status.creation_time,
        completion_time=_opt(m.status, "completion_time"),
        events=tuple(event_from_pb(e) for e in m.status.events),
    )


# -- executors and nodes ---------------------------------------------------------------------


def executor_to_pb(e: Executor) -> pb.Executor:
    m = pb.Executor(
        metadata=pb.Metadata(id=e.id, name=e.id),
        spec=pb.ExecutorSpec(node=e.node, resreq=resreq_to_pb(e.resreq), shim=int(e.shim)),
        status=pb.ExecutorStatus(state=int(e.state)),
    )
    if e.session_id is not None:
        m.status.session_id = e.session_id
    return m


def executor_from_pb(m: pb.Executor) -> Executor:
    return Executor(
        id=m.metadata.id,
        node=m.spec.node,
        state=ExecutorState(m.status.state),
        session_id=_opt(m.status, "session_id"),
        resreq=resreq_from_pb(m.spec.resreq),
        shim=Shim(m.spec.shim),
    )


def node_to_pb(n: Node) -> pb.Node:
    return pb.Node(
        metadata=pb.Metadata(id=n.name, name=n.name),
        spec=pb.NodeSpec(hostname=n.hostname or n.name),
        status=pb.NodeStatus(
            state=int(n.state),
            capacity=resreq_to_pb(n.capacity),
            allocatable=resreq_to_pb(n.allocatable),
            info=pb.NodeInfo(arch=n.arch, os=n.os),
            last_heartbeat_time=n.last_heartbeat_time,
        ),
    )


def node_from_pb(m: pb.Node) -> Node:
    return Node(
        name=m.metadata.name or m.metadata.id,
        state=NodeState(m.status.state),
        capacity=resreq_from_pb(m.status.capacity),
        allocatable=resreq_from_pb(m.status.allocatable),
        arch=m.status.info.arch,
        os=m.status.info.os,
        hostname=m.spec.hostname,
        last_heartbeat_time=m.status.last_heartbeat_time,
    )


# -- task completions (flamepy.v1.FrontendExt) -----------------------------------------------


def completion_to_pb(c: TaskCompletion) -> ext_pb.TaskCompletion:
    m = ext_pb.TaskCompletion(task_id=c.task_id, state=int(c.state))
    if c.output is not None:
        m.output = c.output
    if c.message is not None:
        m.message = c.message
    return m


def completion_from_pb(m: ext_pb.TaskCompletion) -> TaskCompletion:
    return TaskCompletion(m.task_id, TaskState(m.state), _opt(m, "output"), _opt(m, "message"))


class RetryPolicyView(Protocol):
    @property
    def max_retries(self) -> int: ...
    @property
    def retry_on_error(self) -> bool: ...
    @property
    def task_timeout(self) -> float | None: ...


def retry_policy_to_pb(p: RetryPolicyView) -> ext_pb.RetryPolicy:
    """A retry policy in effect (``max_retries``, ``retry_on_error``, ``task_timeout`` in seconds or
    None); no timeout is 0 on the wire."""
    return ext_pb.RetryPolicy(
        max_retries=p.max_retries, retry_on_error=p.retry_on_error, task_timeout_s=p.task_timeout or 0.0
    )


def retry_policy_from_pb(m: ext_pb.RetryPolicy) -> RetryPolicy:
    """The policy a SetRetryPolicy answered; a timeout of 0 on the wire is None (no limit)."""
    return RetryPolicy(m.max_retries, m.retry_on_error, m.task_timeout_s or None)


def log_chunk_to_pb(c: TaskLogChunk) -> ext_pb.TaskLogChunk:
    return ext_pb.TaskLogChunk(
        data=c.data, offset=c.offset, next_offset=c.next_offset, eof=c.eof, size=c.size, node=c.node
    )


def log_chunk_from_pb(m: ext_pb.TaskLogChunk) -> TaskLogChunk:
    return TaskLogChunk(m.data, m.offset, m.next_offset, m.eof, m.size, m.node)


def set_retry_policy_to_pb(
    application: str | None,
    session_id: str | None,
    max_retries: int | None,
    retry_on_error: bool | None,
    task_timeout: float | None,
) -> ext_pb.SetRetryPolicyRequest:
    """A SetRetryPolicy request for one application or one session; None fields stay unset (the
    target keeps their current value); a ``task_timeout`` of 0 clears the limit."""
    m = ext_pb.SetRetryPolicyRequest()
    if session_id is not None:
        m.session_id = session_id
    elif application is not None:
        m.application = application
    if max_retries is not None:
        m.max_retries = max_retries
    if retry_on_error is not None:
        m.retry_on_error = retry_on_error
    if task_timeout is not None:
        m.task_timeout_s = task_timeout
    return m
