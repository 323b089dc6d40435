"""What a Runner puts in a session's common data and in task inputs and outputs.

* common data: a :class:`ServiceSpec` (what kind of object, a reference to it in the cache, the
  code package);
* task input: a :class:`Call` (method name or None, args, kwargs), or a :class:`CallRef` to a call
  stored in the cache when it is too big to travel inline;
* task output: an :class:`InlineResult` (the pickled result, up to ``INLINE_RESULT_LIMIT``) or
  the reference of a bigger result stored in the cache;
* a failed call: a :class:`RemoteError` stored in the cache, named by the last line of the task's
  failure message (see :func:`failure_message`), so the human text stays readable.

Everything is pickled with cloudpickle; :func:`get_data` decodes any of them for inspection.
Pure functions, no I/O.
"""

from __future__ import annotations

import enum
import json
import pickle
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cloudpickle

from flamepy.errors import InternalError, InvalidArgumentError

INLINE_CALL_LIMIT = 1024 * 1024  # a bigger pickled call goes through the cache
INLINE_RESULT_LIMIT = 64 * 1024  # a smaller pickled result comes back in the task's output
ERROR_MARKER = "flame-runner-error: "


class ServiceKind(enum.Enum):
    FUNCTION = "function"  # stateless: a callable
    CLASS = "class"  # stateless: instantiated once per executor
    OBJECT = "object"  # stateful: one instance, saved after every call


@dataclass(frozen=True)
class PackageInfo:
    digest: str
    ref: Any  # ObjectRef of the .tar.gz in the cache


@dataclass(frozen=True)
class ServiceSpec:
    kind: ServiceKind
    name: str  # for messages: the function or class name
    object_ref: Any  # ObjectRef of the pickled function, class or instance
    package: PackageInfo | None = None


@dataclass(frozen=True)
class Call:
    method: str | None
    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallRef:
    ref: Any  # ObjectRef of a pickled Call


@dataclass(frozen=True)
class InlineResult:
    """A small result, pickled, carried in the task's output instead of the object cache."""

    data: bytes


def encode(value: object) -> bytes:
    return cloudpickle.dumps(value)


def get_data(data: bytes | None) -> object:
    """Decode a Runner task's input (a Call) or output (a result reference), or a service's common
    data (a ServiceSpec), for inspection."""
    if data is None:
        return None
    try:
        return cloudpickle.loads(data)
    except Exception as exc:
        raise InvalidArgumentError(f"not Runner data ({len(data)} bytes): {exc}") from exc


def decode_as(data: bytes | None, kind: type, what: str) -> Any:
    value = get_data(data)
    if not isinstance(value, kind):
        raise InvalidArgumentError(f"{what}: expected {kind.__name__}, got {type(value).__name__}")
    return value


# -- walking arguments -------------------------------------------------------------------------------


KEEP: Any = object()  # map_args: "not a leaf, keep looking"


def map_args(value: object, leaf: Callable[[object], object]) -> object:
    """``value`` with every item for which ``leaf`` returns something other than :data:`KEEP`
    replaced by that; looks inside lists, tuples and dicts (not other containers)."""
    replaced = leaf(value)
    if replaced is not KEEP:
        return replaced
    if type(value) is list:
        return [map_args(v, leaf) for v in value]
    if type(value) is tuple:
        return tuple(map_args(v, leaf) for v in value)
    if type(value) is dict:
        return {k: map_args(v, leaf) for k, v in value.items()}
    return value


def find_args(value: object, match: Callable[[object], bool]) -> list[object]:
    """The items of ``value`` (looking inside lists, tuples and dicts) for which ``match`` is true."""
    found: list[object] = []

    def visit(item: object) -> object:
        if match(item):
            found.append(item)
            return item
        return KEEP

    map_args(value, visit)
    return found


# -- remote errors -----------------------------------------------------------------------------------


class RemoteError(InternalError):
    """A remote call raised an exception that cannot be rebuilt here (it does not unpickle)."""

    def __init__(self, type_name: str, message: str, traceback_text: str) -> None:
        super().__init__(f"remote {type_name}: {message}\n{traceback_text}".rstrip())
        self.remote_type = type_name
        self.remote_message = message
        self.remote_traceback = traceback_text

    def __reduce__(self):
        return (RemoteError, (self.remote_type, self.remote_message, self.remote_traceback))


class CallFailed(Exception):
    """Raised by the service for a failed call; ``str()`` is :func:`failure_message`'s text."""


@dataclass(frozen=True)
class ErrorInfo:
    """An exception raised by a remote call: its pickle when it has one, and its text."""

    type_name: str
    message: str
    traceback: str
    pickled: bytes | None = None

    @classmethod
    def capture(cls, exc: BaseException, skip_frames: int = 0) -> ErrorInfo:
        """``exc`` with its traceback, less the first ``skip_frames`` frames (the runtime's own)."""
        tb = exc.__traceback__
        for _ in range(skip_frames):
            if tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
        text = "".join(traceback.format_exception(type(exc), exc, tb))
        pickled: bytes | None
        try:
            pickled = cloudpickle.dumps(exc)
            pickle.loads(pickled)  # rebuilt here, rebuilt there: reject what fails already
        except Exception:
            pickled = None
        name = type(exc).__qualname__
        module = type(exc).__module__
        if module not in ("builtins", "__main__"):
            name = f"{module}.{name}"
        return cls(name, str(exc), text, pickled)

    def to_exception(self) -> BaseException:
        """The original exception with the remote traceback attached, or a :class:`RemoteError`."""
        if self.pickled is not None:
            try:
                exc = pickle.loads(self.pickled)
            except Exception:
                exc = None
            if isinstance(exc, BaseException):
                exc.remote_traceback = self.traceback  # type: ignore[attr-defined]
                if hasattr(exc, "add_note"):
                    exc.add_note(f"Remote traceback (most recent call last):\n{self.traceback}")
                return exc
        return RemoteError(self.type_name, self.message, self.traceback)


def failure_message(info: ErrorInfo, ref: Any | None) -> str:
    """The task failure text: the exception and its traceback, then a line naming the stored error."""
    text = f"{info.type_name}: {info.message}\n{info.traceback}".rstrip()
    if ref is None:
        return text
    doc = {"endpoint": ref.endpoint, "key": ref.key, "version": ref.version}
    return f"{text}\n{ERROR_MARKER}{json.dumps(doc, sort_keys=True)}"


def error_ref_fields(message: str) -> dict[str, Any] | None:
    """The endpoint/key/version named by a failure message's marker line, if it has one."""
    idx = message.rfind(ERROR_MARKER)
    if idx < 0:
        return None
    line = message[idx + len(ERROR_MARKER) :].splitlines()[0]
    try:
        doc = json.loads(line)
        return {"endpoint": str(doc["endpoint"]), "key": str(doc["key"]), "version": int(doc["version"])}
    except (ValueError, KeyError, TypeError):
        return None
