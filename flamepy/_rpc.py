"""The one place where ``grpc.RpcError`` becomes a :class:`~flamepy.errors.FlameError`.

Every client RPC goes through :func:`call` (unary) or runs inside :func:`translate` (streams), so no
other module catches ``grpc.RpcError``. The original error stays reachable as ``__cause__``;
:func:`is_unimplemented` looks there to decide on protocol fallbacks.

:class:`InFlightLimiter` caps the RPCs outstanding on one channel (grpc's sync client was seen
cancelling calls when ~5,000 futures were outstanding on a single channel).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import grpc

from flamepy.errors import (
    AlreadyExistsError,
    AuthenticationError,
    FlameError,
    FlameErrorCode,
    InvalidArgumentError,
    InvalidStateError,
    NotFoundError,
    ResourceExhaustedError,
    UnavailableError,
    error_for,
)

T = TypeVar("T")

DEFAULT_MAX_IN_FLIGHT = 1000

_BY_STATUS: dict[grpc.StatusCode, FlameErrorCode] = {
    grpc.StatusCode.NOT_FOUND: FlameErrorCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS: FlameErrorCode.ALREADY_EXISTS,
    grpc.StatusCode.INVALID_ARGUMENT: FlameErrorCode.INVALID_ARGUMENT,
    grpc.StatusCode.OUT_OF_RANGE: FlameErrorCode.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION: FlameErrorCode.INVALID_STATE,
    grpc.StatusCode.UNAVAILABLE: FlameErrorCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: FlameErrorCode.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED: FlameErrorCode.INVALID_ARGUMENT,
}


def _status_of(exc: BaseException) -> grpc.StatusCode | None:
    code = getattr(exc, "code", None)
    if not callable(code):
        return None
    value = code()
    return value if isinstance(value, grpc.StatusCode) else None


def _details_of(exc: BaseException) -> str:
    details = getattr(exc, "details", None)
    text = details() if callable(details) else None
    return text or str(exc) or type(exc).__name__


def _raw_details(exc: BaseException) -> str:
    details = getattr(exc, "details", None)
    return (details() if callable(details) else None) or ""


def map_rpc_error(exc: grpc.RpcError, what: str = "") -> FlameError:
    """The FlameError for a gRPC failure; ``what`` names the operation for the message."""
    status = _status_of(exc)
    details = _details_of(exc)
    prefix = f"{what}: " if what else ""
    if status == grpc.StatusCode.CANCELLED and not _raw_details(exc):
        # not our own cancel (that says "Locally cancelled by application!"): the connection broke
        return UnavailableError(f"{prefix}the call was cancelled without details (connection broken)")
    if status == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return _exhausted(prefix, details)
    if status == grpc.StatusCode.UNAUTHENTICATED:
        return AuthenticationError(f"{prefix}{details}")
    if status in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        message = f"{prefix}{details} ({status.name.lower()})"
    elif status is None or status in _BY_STATUS:
        message = f"{prefix}{details}"
    else:
        message = f"{prefix}{details} (grpc status {status.name})"
    code = _BY_STATUS.get(status, FlameErrorCode.INTERNAL) if status is not None else FlameErrorCode.INTERNAL
    return error_for(code, message)


def _exhausted(prefix: str, details: str) -> FlameError:
    """RESOURCE_EXHAUSTED means one of three things: a message over gRPC's size limit, a request
    over one of the server's per-request limits (both: send less per call), or a server whose
    storage is full (nothing was stored; the same request may succeed later)."""
    if "larger than max" in details:
        hint = "pass large data through the object cache"
        return InvalidArgumentError(f"{prefix}message too large ({details}); {hint}")
    if "(max_" in details:
        return InvalidArgumentError(f"{prefix}{details}")
    return ResourceExhaustedError(f"{prefix}{details}")


@contextmanager
def translate(what: str = "") -> Iterator[None]:
    """Run the block, turning any ``grpc.RpcError`` into a FlameError (``raise ... from exc``)."""
    try:
        yield
    except grpc.RpcError as exc:
        raise map_rpc_error(exc, what) from exc


def never_sent(err: BaseException) -> bool:
    """Whether ``err`` (a mapped FlameError) is gRPC failing to connect: the request never left."""
    cause = err.__cause__ if isinstance(err, FlameError) else err
    return (
        cause is not None
        and _status_of(cause) == grpc.StatusCode.UNAVAILABLE
        and _raw_details(cause).startswith("failed to connect")
    )


def is_unimplemented(err: BaseException) -> bool:
    """Whether ``err`` (a mapped FlameError) came from a server that lacks the called method."""
    cause = err.__cause__ if isinstance(err, FlameError) else err
    return cause is not None and _status_of(cause) == grpc.StatusCode.UNIMPLEMENTED


class InFlightLimiter:
    """A counting gate for RPCs outstanding on one channel."""

    def __init__(self, limit: int = DEFAULT_MAX_IN_FLIGHT) -> None:
        if limit < 1:
            raise InvalidArgumentError(f"in-flight limit must be at least 1, got {limit}")
        self.limit = limit
        self._sem = threading.BoundedSemaphore(limit)

    @contextmanager
    def slot(self) -> Iterator[None]:
        self._sem.acquire()
        try:
            yield
        finally:
            self._sem.release()


def call(
    fn: Callable[..., T],
    request: Any,
    *,
    what: str = "",
    timeout: float | None = None,
    limiter: InFlightLimiter | None = None,
) -> T:
    """Call the unary stub method ``fn`` with ``request``; gRPC errors become FlameErrors."""
    if limiter is None:
        with translate(what):
            return fn(request, timeout=timeout)
    with limiter.slot(), translate(what):
        return fn(request, timeout=timeout)


_STATUS_BY_NUMBER = {status.value[0]: status for status in grpc.StatusCode}


def check_result(return_code: int, message: str | None, what: str) -> None:
    """Raise the FlameError for a flame.v1 ``Result`` whose ``return_code`` is not 0.

    Our session manager puts the gRPC status code number in ``return_code``; other servers may not,
    so an unknown number falls back to reading the kind from the server's sentence.
    """
    if return_code == 0:
        return
    text = message or f"return code {return_code}"
    full = f"{what}: {text}"
    status = _STATUS_BY_NUMBER.get(return_code)
    if status in _BY_STATUS:
        raise error_for(_BY_STATUS[status], full)
    if status == grpc.StatusCode.INTERNAL:
        raise error_for(FlameErrorCode.INTERNAL, full)
    lowered = text.lower()
    if "already exist" in lowered:
        raise AlreadyExistsError(full)
    if "not found" in lowered or "does not exist" in lowered:
        raise NotFoundError(full)
    if "in use" in lowered or "is not open" in lowered or "state" in lowered:
        raise InvalidStateError(full)
    if "unavailable" in lowered:
        raise UnavailableError(full)
    raise InvalidArgumentError(full)
