from . import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaskInput(_message.Message):
    __slots__ = ("input", "idempotency_key")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    input: bytes
    idempotency_key: str
    def __init__(self, input: _Optional[bytes] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class CreateTasksRequest(_message.Message):
    __slots__ = ("session_id", "inputs")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    inputs: _containers.RepeatedCompositeFieldContainer[TaskInput]
    def __init__(self, session_id: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[TaskInput, _Mapping]]] = ...) -> None: ...

class CreateTasksResponse(_message.Message):
    __slots__ = ("task_ids",)
    TASK_IDS_FIELD_NUMBER: _ClassVar[int]
    task_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, task_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class WatchSessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class TaskCompletion(_message.Message):
    __slots__ = ("task_id", "state", "output", "message")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    state: _types_pb2.TaskState
    output: bytes
    message: str
    def __init__(self, task_id: _Optional[str] = ..., state: _Optional[_Union[_types_pb2.TaskState, str]] = ..., output: _Optional[bytes] = ..., message: _Optional[str] = ...) -> None: ...

class SessionCompletions(_message.Message):
    __slots__ = ("completions",)
    COMPLETIONS_FIELD_NUMBER: _ClassVar[int]
    completions: _containers.RepeatedCompositeFieldContainer[TaskCompletion]
    def __init__(self, completions: _Optional[_Iterable[_Union[TaskCompletion, _Mapping]]] = ...) -> None: ...

class RunTaskRequest(_message.Message):
    __slots__ = ("session_id", "input", "idempotency_key")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    input: bytes
    idempotency_key: str
    def __init__(self, session_id: _Optional[str] = ..., input: _Optional[bytes] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class LocalEndpointRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LocalEndpoint(_message.Message):
    __slots__ = ("path", "token")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    path: str
    token: str
    def __init__(self, path: _Optional[str] = ..., token: _Optional[str] = ...) -> None: ...

class SetRetryPolicyRequest(_message.Message):
    __slots__ = ("application", "session_id", "max_retries", "retry_on_error", "task_timeout_s")
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_RETRIES_FIELD_NUMBER: _ClassVar[int]
    RETRY_ON_ERROR_FIELD_NUMBER: _ClassVar[int]
    TASK_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    application: str
    session_id: str
    max_retries: int
    retry_on_error: bool
    task_timeout_s: float
    def __init__(self, application: _Optional[str] = ..., session_id: _Optional[str] = ..., max_retries: _Optional[int] = ..., retry_on_error: _Optional[bool] = ..., task_timeout_s: _Optional[float] = ...) -> None: ...

class RetryPolicy(_message.Message):
    __slots__ = ("max_retries", "retry_on_error", "task_timeout_s")
    MAX_RETRIES_FIELD_NUMBER: _ClassVar[int]
    RETRY_ON_ERROR_FIELD_NUMBER: _ClassVar[int]
    TASK_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    max_retries: int
    retry_on_error: bool
    task_timeout_s: float
    def __init__(self, max_retries: _Optional[int] = ..., retry_on_error: _Optional[bool] = ..., task_timeout_s: _Optional[float] = ...) -> None: ...

class SetSessionPlacementRequest(_message.Message):
    __slots__ = ("session_id", "spread")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SPREAD_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    spread: bool
    def __init__(self, session_id: _Optional[str] = ..., spread: _Optional[bool] = ...) -> None: ...

class SessionPlacement(_message.Message):
    __slots__ = ("spread",)
    SPREAD_FIELD_NUMBER: _ClassVar[int]
    spread: bool
    def __init__(self, spread: _Optional[bool] = ...) -> None: ...

class CancelTaskRequest(_message.Message):
    __slots__ = ("session_id", "task_id", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    task_id: str
    reason: str
    def __init__(self, session_id: _Optional[str] = ..., task_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReadTaskLogRequest(_message.Message):
    __slots__ = ("session_id", "task_id", "offset", "max_bytes")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    task_id: str
    offset: int
    max_bytes: int
    def __init__(self, session_id: _Optional[str] = ..., task_id: _Optional[str] = ..., offset: _Optional[int] = ..., max_bytes: _Optional[int] = ...) -> None: ...

class TaskLogChunk(_message.Message):
    __slots__ = ("data", "offset", "next_offset", "eof", "size", "node")
    DATA_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    EOF_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    offset: int
    next_offset: int
    eof: bool
    size: int
    node: str
    def __init__(self, data: _Optional[bytes] = ..., offset: _Optional[int] = ..., next_offset: _Optional[int] = ..., eof: _Optional[bool] = ..., size: _Optional[int] = ..., node: _Optional[str] = ...) -> None: ...

class TaskStatsRequest(_message.Message):
    __slots__ = ("session_id", "task_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    task_id: str
    def __init__(self, session_id: _Optional[str] = ..., task_id: _Optional[str] = ...) -> None: ...

class GpuStats(_message.Message):
    __slots__ = ("index", "util_percent", "memory_used_bytes", "memory_total_bytes")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    UTIL_PERCENT_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    MEMORY_TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    index: int
    util_percent: float
    memory_used_bytes: int
    memory_total_bytes: int
    def __init__(self, index: _Optional[int] = ..., util_percent: _Optional[float] = ..., memory_used_bytes: _Optional[int] = ..., memory_total_bytes: _Optional[int] = ...) -> None: ...

class TaskStats(_message.Message):
    __slots__ = ("node", "pids", "cpu_percent", "rss_bytes", "gpus", "running")
    NODE_FIELD_NUMBER: _ClassVar[int]
    PIDS_FIELD_NUMBER: _ClassVar[int]
    CPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    node: str
    pids: _containers.RepeatedScalarFieldContainer[int]
    cpu_percent: float
    rss_bytes: int
    gpus: _containers.RepeatedCompositeFieldContainer[GpuStats]
    running: bool
    def __init__(self, node: _Optional[str] = ..., pids: _Optional[_Iterable[int]] = ..., cpu_percent: _Optional[float] = ..., rss_bytes: _Optional[int] = ..., gpus: _Optional[_Iterable[_Union[GpuStats, _Mapping]]] = ..., running: _Optional[bool] = ...) -> None: ...

class ExecInTaskRequest(_message.Message):
    __slots__ = ("session_id", "task_id", "argv", "timeout_s")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ARGV_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    task_id: str
    argv: _containers.RepeatedScalarFieldContainer[str]
    timeout_s: float
    def __init__(self, session_id: _Optional[str] = ..., task_id: _Optional[str] = ..., argv: _Optional[_Iterable[str]] = ..., timeout_s: _Optional[float] = ...) -> None: ...

class ExecChunk(_message.Message):
    __slots__ = ("data", "done", "exit_code", "note", "node")
    DATA_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    done: bool
    exit_code: int
    note: str
    node: str
    def __init__(self, data: _Optional[bytes] = ..., done: _Optional[bool] = ..., exit_code: _Optional[int] = ..., note: _Optional[str] = ..., node: _Optional[str] = ...) -> None: ...
