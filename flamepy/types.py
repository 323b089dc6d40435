"""Plain typed values shared by the SDK, the session manager and the executor manager.

Enum values equal the flame.v1 wire values. Dataclasses are frozen; generated protobuf types never
appear here (conversion lives in ``flamepy.common.convert``).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from flamepy.errors import InvalidArgumentError


class SessionState(enum.IntEnum):
    OPEN = 0
    CLOSED = 1


class TaskState(enum.IntEnum):
    PENDING = 0
    RUNNING = 1
    SUCCEED = 2
    FAILED = 3
    CANCELLED = 4

    @property
    def is_terminal(self) -> bool:
        return self in (TaskState.SUCCEED, TaskState.FAILED, TaskState.CANCELLED)


class Shim(enum.IntEnum):
    HOST = 0
    WASM = 1


class ApplicationState(enum.IntEnum):
    ENABLED = 0
    DISABLED = 1


class ExecutorState(enum.IntEnum):
    UNKNOWN = 0
    VOID = 1
    IDLE = 2
    BINDING = 3
    BOUND = 4
    UNBINDING = 5
    RELEASING = 6
    RELEASED = 7


class NodeState(enum.IntEnum):
    UNKNOWN = 0
    READY = 1
    NOT_READY = 2


class EventCode(enum.IntEnum):
    """Event codes on the wire: a task event's code is the TaskState it entered; 1001 is a session
    event for an executor that failed to bind the session."""

    PENDING = 0
    RUNNING = 1
    SUCCEED = 2
    FAILED = 3
    CANCELLED = 4
    BIND_FAILED = 1001


# A task's input (and output) must fit one gRPC message under the default 4 MiB receive limit of
# independent flame.v1 clients, with room for the rest of the Task message. Larger data goes
# through the object cache.
MAX_TASK_DATA_BYTES = 4 * 1024 * 1024 - 64 * 1024

_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_MEM = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)$", re.IGNORECASE)


def parse_memory(text: str) -> int:
    """``"1g"`` / ``"512Mi"`` / ``"1024"`` → bytes."""
    m = _MEM.match(text.strip())
    if not m:
        raise InvalidArgumentError(f"invalid memory size {text!r}: expected e.g. 512m, 1g, 2Gi")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def format_memory(num: int) -> str:
    for unit, size in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if num and num % size == 0:
            return f"{num // size}{unit}"
    return str(num)


@dataclass(frozen=True)
class ResourceRequirement:
    """CPU cores, memory in bytes and whole GPUs an executor needs."""

    cpu: int = 0
    memory: int = 0
    gpu: int = 0

    @classmethod
    def from_string(cls, s: str) -> ResourceRequirement:
        """Parse ``"cpu=1,mem=1g,gpu=0"`` (any subset, any order; an omitted resource is 0).

        A malformed string raises :class:`~flamepy.errors.InvalidArgumentError`, which is also a
        ``ValueError`` (what flamepy 0.6.0 raised)."""
        text = s
        if not isinstance(text, str):
            raise InvalidArgumentError(f"resource requirement must be a string, got {type(text).__name__}")
        values: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition("=")
            key = key.strip().lower()
            if not sep or not value.strip():
                raise InvalidArgumentError(
                    f"invalid resource requirement {text!r}: {part!r} is not key=value"
                )
            if key in values:
                raise InvalidArgumentError(f"invalid resource requirement {text!r}: {key!r} given twice")
            if key == "cpu":
                values["cpu"] = _non_negative_int(text, key, value)
            elif key in ("mem", "memory"):
                values["memory"] = parse_memory(value)
            elif key == "gpu":
                values["gpu"] = _non_negative_int(text, key, value)
            else:
                raise InvalidArgumentError(
                    f"invalid resource requirement {text!r}: unknown resource {key!r} (use cpu, mem, gpu)"
                )
        return cls(**values)

    def __str__(self) -> str:
        return f"cpu={self.cpu},mem={format_memory(self.memory)},gpu={self.gpu}"

    def fits_in(self, available: ResourceRequirement) -> bool:
        return self.cpu <= available.cpu and self.memory <= available.memory and self.gpu <= available.gpu

    def __add__(self, other: ResourceRequirement) -> ResourceRequirement:
        return ResourceRequirement(self.cpu + other.cpu, self.memory + other.memory, self.gpu + other.gpu)

    def __sub__(self, other: ResourceRequirement) -> ResourceRequirement:
        return ResourceRequirement(self.cpu - other.cpu, self.memory - other.memory, self.gpu - other.gpu)


def _non_negative_int(text: str, key: str, value: str) -> int:
    try:
        num = int(value.strip())
    except ValueError:
        raise InvalidArgumentError(
            f"invalid resource requirement {text!r}: {key} must be an integer"
        ) from None
    if num < 0:
        raise InvalidArgumentError(f"invalid resource requirement {text!r}: {key} must not be negative")
    return num


@dataclass(frozen=True)
class Event:
    code: int
    message: str | None = None
    creation_time: int | None = None  # ms since epoch; None: not known


@dataclass(frozen=True)
class ApplicationSchema:
    input: str | None = None
    output: str | None = None
    common_data: str | None = None


@dataclass(frozen=True)
class ApplicationAttributes:
    """Every field of flame.v1 ApplicationSpec."""

    shim: Shim | None = None
    image: str | None = None
    description: str | None = None
    labels: list[str] | None = None
    command: str | None = None
    arguments: list[str] | None = None
    environments: dict[str, str] | None = None
    working_directory: str | None = None
    max_instances: int | None = None
    delay_release: int | None = None  # seconds
    schema: ApplicationSchema | None = None
    url: str | None = None
    installer: str | None = None


_APP_FIELDS = tuple(ApplicationAttributes.__dataclass_fields__)


def _value_class(cls: type) -> type:
    """A frozen dataclass with its own ``__init__`` (type checkers see a plain class)."""
    return dataclass(frozen=True, init=False)(cls)


@(_value_class if not TYPE_CHECKING else (lambda cls: cls))
class Application:
    """A registered application: its id and name, state, creation time (ms since epoch) and every
    ApplicationSpec field as an attribute (``app.url``, ``app.command`` ...), as flamepy 0.6.0 has it.

    Both constructor forms work: 0.6.0's ``Application(id, name, state, creation_time, shim=...,
    ...)`` and ours, ``Application(name, attributes, state, creation_time)`` (or
    ``attributes=`` by keyword). :attr:`attributes` gives the spec fields back as one value. An
    unset ``shim`` reads as ``Shim.HOST`` and unset ``arguments`` as ``[]``.
    """

    if TYPE_CHECKING:
        __dataclass_fields__: ClassVar[dict[str, Any]]

    id: str
    name: str
    state: ApplicationState
    creation_time: int
    shim: Shim
    image: str | None
    description: str | None
    labels: list[str] | None
    command: str | None
    arguments: list[str]
    environments: dict[str, str] | None
    working_directory: str | None
    max_instances: int | None
    delay_release: int | None
    schema: ApplicationSchema | None
    url: str | None
    installer: str | None
    attributes: ApplicationAttributes  # the spec fields as one value (as registered)

    def __init__(
        self,
        id: str | None = None,
        name: str | ApplicationAttributes | None = None,
        state: ApplicationState = ApplicationState.ENABLED,
        creation_time: int = 0,
        shim: Shim | None = None,
        image: str | None = None,
        description: str | None = None,
        labels: list[str] | None = None,
        command: str | None = None,
        arguments: list[str] | None = None,
        environments: dict[str, str] | None = None,
        working_directory: str | None = None,
        max_instances: int | None = None,
        delay_release: int | None = None,
        schema: ApplicationSchema | None = None,
        url: str | None = None,
        installer: str | None = None,
        *,
        attributes: ApplicationAttributes | None = None,
    ) -> None:
        if isinstance(name, ApplicationAttributes):  # ours, positionally: (name, attributes, ...)
            name, attributes = None, name
        ident = id if id is not None else name
        if ident is None:
            raise InvalidArgumentError("an Application needs a name")
        values = dict(locals())
        if attributes is not None:
            values.update(attributes.__dict__)
        values["shim"] = Shim(values["shim"]) if values["shim"] is not None else Shim.HOST
        values["arguments"] = list(values["arguments"] or [])
        setter = object.__setattr__
        setter(self, "id", ident)
        setter(self, "name", name if name is not None else ident)
        setter(self, "state", ApplicationState(state))
        setter(self, "creation_time", creation_time)
        for key in _APP_FIELDS:
            setter(self, key, values[key])
        if attributes is None:
            attributes = ApplicationAttributes(**{key: values[key] for key in _APP_FIELDS})
        setter(self, "attributes", attributes)


@dataclass(frozen=True)
class ApplicationContext:
    """flame.v1 ApplicationContext: what a service instance is told about its application in
    OnSessionEnter (the executor sends it, ``flamepy.run`` hands it to the service)."""

    name: str
    image: str | None = None
    command: str | None = None
    working_directory: str | None = None
    url: str | None = None
    shim: Shim = Shim.HOST
    installer: str | None = None

    def __str__(self) -> str:
        return self.name

    @classmethod
    def of(cls, app: Application) -> ApplicationContext:
        """The context of a registered application."""
        return cls(
            app.name,
            app.image,
            app.command,
            app.working_directory,
            app.url,
            app.shim,
            app.installer,
        )


@dataclass(frozen=True)
class SessionAttributes:
    application: str
    id: str | None = None
    common_data: bytes | None = None
    min_instances: int = 0
    max_instances: int | None = None
    batch_size: int = 1
    resreq: ResourceRequirement | None = None
    priority: int = 0


@dataclass(frozen=True)
class SessionStatus:
    state: SessionState
    creation_time: int
    completion_time: int | None = None
    pending: int = 0
    running: int = 0
    succeed: int = 0
    failed: int = 0
    cancelled: int = 0
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class Task:
    id: str
    session_id: str
    state: TaskState
    creation_time: int = 0
    input: bytes | None = None
    output: bytes | None = None
    completion_time: int | None = None
    events: tuple[Event, ...] = field(default_factory=tuple)

    def is_completed(self) -> bool:
        return self.state.is_terminal

    def is_failed(self) -> bool:
        return self.state == TaskState.FAILED

    @property
    def message(self) -> str | None:
        """The failure/cancel reason: the message of the last error event, if any."""
        for ev in reversed(self.events):
            if ev.code in (EventCode.FAILED, EventCode.CANCELLED) and ev.message:
                return ev.message
        return None


@dataclass(frozen=True)
class Executor:
    id: str
    node: str
    state: ExecutorState
    session_id: str | None = None
    resreq: ResourceRequirement = ResourceRequirement(cpu=1)
    shim: Shim = Shim.HOST


@dataclass(frozen=True)
class Node:
    name: str
    state: NodeState
    capacity: ResourceRequirement
    allocatable: ResourceRequirement
    arch: str = ""
    os: str = ""
    hostname: str = ""
    last_heartbeat_time: int = 0


@dataclass(frozen=True)
class TaskCompletion:
    """The terminal outcome of one task, as the session-wide completion stream carries it."""

    task_id: str
    state: TaskState
    output: bytes | None = None
    message: str | None = None  # the failure / cancel reason


@dataclass(frozen=True)
class RetryPolicy:
    """A session's or application's retry policy in effect: ``max_retries`` re-runs after
    infrastructure failures, ``retry_on_error`` also after the task's own failure, ``task_timeout``
    seconds per attempt (None: no limit). See ``Connection.set_retry_policy``."""

    max_retries: int = 3
    retry_on_error: bool = False
    task_timeout: float | None = None
