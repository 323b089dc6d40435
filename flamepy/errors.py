"""The one error tree of Flame for Python.

    FlameError(code, message)
     ├── InvalidConfigError      INVALID_CONFIG    bad configuration / endpoint (client side)
     │    └── AuthenticationError                  no or a wrong token              ↔ UNAUTHENTICATED
     ├── InvalidStateError       INVALID_STATE     wrong state (closed session ...)   ↔ FAILED_PRECONDITION
     ├── InvalidArgumentError    INVALID_ARGUMENT  bad input                          ↔ INVALID_ARGUMENT
     ├── InternalError           INTERNAL          a bug                              ↔ INTERNAL
     ├── AlreadyExistsError      ALREADY_EXISTS                                       ↔ ALREADY_EXISTS
     ├── NotFoundError           NOT_FOUND                                            ↔ NOT_FOUND
     └── UnavailableError        UNAVAILABLE       transient: server down, stream lost ↔ UNAVAILABLE
          ├── TaskTimeoutError                     a result did not come in time (also a TimeoutError)
          └── ResourceExhaustedError               the server is out of space (disk full) ↔ RESOURCE_EXHAUSTED

Build one from a code with :func:`error_for`. The client maps ``grpc.RpcError`` to this tree in
exactly one place (``flamepy._rpc``); the servers map it to gRPC status codes in exactly one place.
"""

from __future__ import annotations

import enum


class FlameErrorCode(enum.IntEnum):
    INVALID_CONFIG = 0
    INVALID_STATE = 1
    INVALID_ARGUMENT = 2
    INTERNAL = 3
    ALREADY_EXISTS = 4
    NOT_FOUND = 5
    UNAVAILABLE = 6


class FlameError(Exception):
    """An error from Flame: a :class:`FlameErrorCode` and a human sentence naming the object."""

    def __init__(self, code: FlameErrorCode, message: str) -> None:
        super().__init__(code, message)
        self.code = FlameErrorCode(code)
        self.message = message

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"

    def __reduce__(self):  # keep pickling (e.g. across processes) working for subclasses
        return (error_for, (self.code, self.message))


class InvalidConfigError(FlameError):
    def __init__(self, message: str) -> None:
        super().__init__(FlameErrorCode.INVALID_CONFIG, message)


class AuthenticationError(InvalidConfigError):
    """The server refused the credentials (gRPC UNAUTHENTICATED): none were found, or they are not
    this cluster's. Never retried; the message says where the SDK looks for a token."""

    def __reduce__(self):  # keep the subclass across pickling
        return (AuthenticationError, (self.message,))


class InvalidStateError(FlameError):
    def __init__(self, message: str) -> None:
        super().__init__(FlameErrorCode.INVALID_STATE, message)


class InvalidArgumentError(FlameError, ValueError):
    """Bad input; also a ``ValueError`` (what flamepy 0.6.0 raised for a bad resource string)."""

    def __init__(self, message: str) -> None:
        super().__init__(FlameErrorCode.INVALID_ARGUMENT, message)


class InternalError(FlameError):
    def __init__(self, message: str) -> None:
        super().__init__(FlameErrorCode.INTERNAL, message)


class AlreadyExistsError(FlameError):
    def __init__(self, message: str) -> None:
        super().__init__(FlameErrorCode.ALREADY_EXISTS, message)


class NotFoundError(FlameError):
    def __init__(self, message: str) -> None:
        super().__init__(FlameErrorCode.NOT_FOUND, message)


class UnavailableError(FlameError):
    def __init__(self, message: str) -> None:
        super().__init__(FlameErrorCode.UNAVAILABLE, message)


class TaskTimeoutError(UnavailableError, TimeoutError):
    """A wait for a task's result ran out (``Session.invoke(..., timeout=...)``); the task may
    still run. Also a ``TimeoutError``."""


class ResourceExhaustedError(UnavailableError):
    """The server could not store the request: its disk (or quota) is full. Nothing of the request
    was applied; the same request may succeed once space is freed. RESOURCE_EXHAUSTED on the wire."""


_BY_CODE: dict[FlameErrorCode, type[FlameError]] = {
    FlameErrorCode.INVALID_CONFIG: InvalidConfigError,
    FlameErrorCode.INVALID_STATE: InvalidStateError,
    FlameErrorCode.INVALID_ARGUMENT: InvalidArgumentError,
    FlameErrorCode.INTERNAL: InternalError,
    FlameErrorCode.ALREADY_EXISTS: AlreadyExistsError,
    FlameErrorCode.NOT_FOUND: NotFoundError,
    FlameErrorCode.UNAVAILABLE: UnavailableError,
}


def error_for(code: FlameErrorCode | int, message: str) -> FlameError:
    """The subclass instance of the tree for ``code``."""
    cls = _BY_CODE[FlameErrorCode(code)]
    return cls(message)  # type: ignore[call-arg,arg-type]
