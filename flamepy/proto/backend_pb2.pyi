from . import types_pb2 as _types_pb2
from . import shim_pb2 as _shim_pb2
from . import extensions_pb2 as _extensions_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RegisterNode(_message.Message):
    __slots__ = ("node", "shims")
    NODE_FIELD_NUMBER: _ClassVar[int]
    SHIMS_FIELD_NUMBER: _ClassVar[int]
    node: _types_pb2.Node
    shims: _containers.RepeatedScalarFieldContainer[_types_pb2.Shim]
    def __init__(self, node: _Optional[_Union[_types_pb2.Node, _Mapping]] = ..., shims: _Optional[_Iterable[_Union[_types_pb2.Shim, str]]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("time",)
    TIME_FIELD_NUMBER: _ClassVar[int]
    time: int
    def __init__(self, time: _Optional[int] = ...) -> None: ...

class ExecutorBound(_message.Message):
    __slots__ = ("executor_id",)
    EXECUTOR_ID_FIELD_NUMBER: _ClassVar[int]
    executor_id: str
    def __init__(self, executor_id: _Optional[str] = ...) -> None: ...

class BindFailed(_message.Message):
    __slots__ = ("executor_id", "message")
    EXECUTOR_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    executor_id: str
    message: str
    def __init__(self, executor_id: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class TaskOutcome(_message.Message):
    __slots__ = ("executor_id", "session_id", "task_id", "return_code", "output", "message", "requeue", "attempt", "crashed", "timed_out", "cancelled", "service_stopped")
    EXECUTOR_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    RETURN_CODE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REQUEUE_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    CRASHED_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    SERVICE_STOPPED_FIELD_NUMBER: _ClassVar[int]
    executor_id: str
    session_id: str
    task_id: str
    return_code: int
    output: bytes
    message: str
    requeue: bool
    attempt: int
    crashed: bool
    timed_out: bool
    cancelled: bool
    service_stopped: bool
    def __init__(self, executor_id: _Optional[str] = ..., session_id: _Optional[str] = ..., task_id: _Optional[str] = ..., return_code: _Optional[int] = ..., output: _Optional[bytes] = ..., message: _Optional[str] = ..., requeue: _Optional[bool] = ..., attempt: _Optional[int] = ..., crashed: _Optional[bool] = ..., timed_out: _Optional[bool] = ..., cancelled: _Optional[bool] = ..., service_stopped: _Optional[bool] = ...) -> None: ...

class ExecutorReleased(_message.Message):
    __slots__ = ("executor_id", "message")
    EXECUTOR_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    executor_id: str
    message: str
    def __init__(self, executor_id: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class TaskOutcomes(_message.Message):
    __slots__ = ("outcomes",)
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    outcomes: _containers.RepeatedCompositeFieldContainer[TaskOutcome]
    def __init__(self, outcomes: _Optional[_Iterable[_Union[TaskOutcome, _Mapping]]] = ...) -> None: ...

class LogData(_message.Message):
    __slots__ = ("request_id", "data", "offset", "next_offset", "eof", "size", "not_found", "error")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    EOF_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    NOT_FOUND_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    data: bytes
    offset: int
    next_offset: int
    eof: bool
    size: int
    not_found: bool
    error: str
    def __init__(self, request_id: _Optional[int] = ..., data: _Optional[bytes] = ..., offset: _Optional[int] = ..., next_offset: _Optional[int] = ..., eof: _Optional[bool] = ..., size: _Optional[int] = ..., not_found: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class StatsData(_message.Message):
    __slots__ = ("request_id", "stats", "not_found", "error")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    NOT_FOUND_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    stats: _extensions_pb2.TaskStats
    not_found: bool
    error: str
    def __init__(self, request_id: _Optional[int] = ..., stats: _Optional[_Union[_extensions_pb2.TaskStats, _Mapping]] = ..., not_found: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class ExecOutput(_message.Message):
    __slots__ = ("request_id", "chunk", "not_found", "not_running", "error")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    NOT_FOUND_FIELD_NUMBER: _ClassVar[int]
    NOT_RUNNING_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    chunk: _extensions_pb2.ExecChunk
    not_found: bool
    not_running: bool
    error: str
    def __init__(self, request_id: _Optional[int] = ..., chunk: _Optional[_Union[_extensions_pb2.ExecChunk, _Mapping]] = ..., not_found: _Optional[bool] = ..., not_running: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class NodeMessage(_message.Message):
    __slots__ = ("register", "heartbeat", "executor_bound", "bind_failed", "task_result", "executor_released", "task_results", "log_data", "stats_data", "exec_output")
    REGISTER_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_BOUND_FIELD_NUMBER: _ClassVar[int]
    BIND_FAILED_FIELD_NUMBER: _ClassVar[int]
    TASK_RESULT_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_RELEASED_FIELD_NUMBER: _ClassVar[int]
    TASK_RESULTS_FIELD_NUMBER: _ClassVar[int]
    LOG_DATA_FIELD_NUMBER: _ClassVar[int]
    STATS_DATA_FIELD_NUMBER: _ClassVar[int]
    EXEC_OUTPUT_FIELD_NUMBER: _ClassVar[int]
    register: RegisterNode
    heartbeat: Heartbeat
    executor_bound: ExecutorBound
    bind_failed: BindFailed
    task_result: TaskOutcome
    executor_released: ExecutorReleased
    task_results: TaskOutcomes
    log_data: LogData
    stats_data: StatsData
    exec_output: ExecOutput
    def __init__(self, register: _Optional[_Union[RegisterNode, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., executor_bound: _Optional[_Union[ExecutorBound, _Mapping]] = ..., bind_failed: _Optional[_Union[BindFailed, _Mapping]] = ..., task_result: _Optional[_Union[TaskOutcome, _Mapping]] = ..., executor_released: _Optional[_Union[ExecutorReleased, _Mapping]] = ..., task_results: _Optional[_Union[TaskOutcomes, _Mapping]] = ..., log_data: _Optional[_Union[LogData, _Mapping]] = ..., stats_data: _Optional[_Union[StatsData, _Mapping]] = ..., exec_output: _Optional[_Union[ExecOutput, _Mapping]] = ...) -> None: ...

class NodeRegistered(_message.Message):
    __slots__ = ("node_name", "frontend_endpoint", "cache_endpoint")
    NODE_NAME_FIELD_NUMBER: _ClassVar[int]
    FRONTEND_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    CACHE_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    node_name: str
    frontend_endpoint: str
    cache_endpoint: str
    def __init__(self, node_name: _Optional[str] = ..., frontend_endpoint: _Optional[str] = ..., cache_endpoint: _Optional[str] = ...) -> None: ...

class BindExecutor(_message.Message):
    __slots__ = ("executor_id", "application", "spec", "session", "resreq", "gpu_ids")
    EXECUTOR_ID_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    RESREQ_FIELD_NUMBER: _ClassVar[int]
    GPU_IDS_FIELD_NUMBER: _ClassVar[int]
    executor_id: str
    application: str
    spec: _types_pb2.ApplicationSpec
    session: _shim_pb2.SessionContext
    resreq: _types_pb2.ResourceRequirement
    gpu_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, executor_id: _Optional[str] = ..., application: _Optional[str] = ..., spec: _Optional[_Union[_types_pb2.ApplicationSpec, _Mapping]] = ..., session: _Optional[_Union[_shim_pb2.SessionContext, _Mapping]] = ..., resreq: _Optional[_Union[_types_pb2.ResourceRequirement, _Mapping]] = ..., gpu_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class InvokeTask(_message.Message):
    __slots__ = ("executor_id", "task", "attempt", "timeout_ms")
    EXECUTOR_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    executor_id: str
    task: _shim_pb2.TaskContext
    attempt: int
    timeout_ms: int
    def __init__(self, executor_id: _Optional[str] = ..., task: _Optional[_Union[_shim_pb2.TaskContext, _Mapping]] = ..., attempt: _Optional[int] = ..., timeout_ms: _Optional[int] = ...) -> None: ...

class InvokeTasks(_message.Message):
    __slots__ = ("tasks",)
    TASKS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[InvokeTask]
    def __init__(self, tasks: _Optional[_Iterable[_Union[InvokeTask, _Mapping]]] = ...) -> None: ...

class ReleaseExecutor(_message.Message):
    __slots__ = ("executor_id",)
    EXECUTOR_ID_FIELD_NUMBER: _ClassVar[int]
    executor_id: str
    def __init__(self, executor_id: _Optional[str] = ...) -> None: ...

class CancelTask(_message.Message):
    __slots__ = ("executor_id", "session_id", "task_id", "attempt", "reason")
    EXECUTOR_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    executor_id: str
    session_id: str
    task_id: str
    attempt: int
    reason: str
    def __init__(self, executor_id: _Optional[str] = ..., session_id: _Optional[str] = ..., task_id: _Optional[str] = ..., attempt: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class ReadLog(_message.Message):
    __slots__ = ("request_id", "session_id", "task_id", "offset", "max_bytes")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    session_id: str
    task_id: str
    offset: int
    max_bytes: int
    def __init__(self, request_id: _Optional[int] = ..., session_id: _Optional[str] = ..., task_id: _Optional[str] = ..., offset: _Optional[int] = ..., max_bytes: _Optional[int] = ...) -> None: ...

class TaskStatsProbe(_message.Message):
    __slots__ = ("request_id", "session_id", "task_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    session_id: str
    task_id: str
    def __init__(self, request_id: _Optional[int] = ..., session_id: _Optional[str] = ..., task_id: _Optional[str] = ...) -> None: ...

class ExecStart(_message.Message):
    __slots__ = ("request_id", "session_id", "task_id", "argv", "timeout_s")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ARGV_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    session_id: str
    task_id: str
    argv: _containers.RepeatedScalarFieldContainer[str]
    timeout_s: float
    def __init__(self, request_id: _Optional[int] = ..., session_id: _Optional[str] = ..., task_id: _Optional[str] = ..., argv: _Optional[_Iterable[str]] = ..., timeout_s: _Optional[float] = ...) -> None: ...

class ExecStop(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    def __init__(self, request_id: _Optional[int] = ...) -> None: ...

class ManagerMessage(_message.Message):
    __slots__ = ("registered", "bind_executor", "invoke_task", "release_executor", "invoke_tasks", "cancel_task", "read_log", "task_stats", "exec_start", "exec_stop")
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    BIND_EXECUTOR_FIELD_NUMBER: _ClassVar[int]
    INVOKE_TASK_FIELD_NUMBER: _ClassVar[int]
    RELEASE_EXECUTOR_FIELD_NUMBER: _ClassVar[int]
    INVOKE_TASKS_FIELD_NUMBER: _ClassVar[int]
    CANCEL_TASK_FIELD_NUMBER: _ClassVar[int]
    READ_LOG_FIELD_NUMBER: _ClassVar[int]
    TASK_STATS_FIELD_NUMBER: _ClassVar[int]
    EXEC_START_FIELD_NUMBER: _ClassVar[int]
    EXEC_STOP_FIELD_NUMBER: _ClassVar[int]
    registered: NodeRegistered
    bind_executor: BindExecutor
    invoke_task: InvokeTask
    release_executor: ReleaseExecutor
    invoke_tasks: InvokeTasks
    cancel_task: CancelTask
    read_log: ReadLog
    task_stats: TaskStatsProbe
    exec_start: ExecStart
    exec_stop: ExecStop
    def __init__(self, registered: _Optional[_Union[NodeRegistered, _Mapping]] = ..., bind_executor: _Optional[_Union[BindExecutor, _Mapping]] = ..., invoke_task: _Optional[_Union[InvokeTask, _Mapping]] = ..., release_executor: _Optional[_Union[ReleaseExecutor, _Mapping]] = ..., invoke_tasks: _Optional[_Union[InvokeTasks, _Mapping]] = ..., cancel_task: _Optional[_Union[CancelTask, _Mapping]] = ..., read_log: _Optional[_Union[ReadLog, _Mapping]] = ..., task_stats: _Optional[_Union[TaskStatsProbe, _Mapping]] = ..., exec_start: _Optional[_Union[ExecStart, _Mapping]] = ..., exec_stop: _Optional[_Union[ExecStop, _Mapping]] = ...) -> None: ...
