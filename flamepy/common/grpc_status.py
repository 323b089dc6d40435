"""The one place mapping FlameError to gRPC status codes on the server side, and where request
bytes become messages (:class:`DecodeInterceptor`).

A :class:`~flamepy.common.bounds.LimitExceededError` (a request carrying more than the server takes
at once) and a :class:`~flamepy.errors.ResourceExhaustedError` (its disk is full) answer
RESOURCE_EXHAUSTED; every other FlameError the status of its code. The details
sent back are clipped (``bounds.clip``), so an error never echoes unbounded input.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from flamepy.common import wire_check
from flamepy.common.bounds import LimitExceededError, clip
from flamepy.errors import FlameError, FlameErrorCode, ResourceExhaustedError

log = logging.getLogger(__name__)

STATUS: dict[FlameErrorCode, grpc.StatusCode] = {
    FlameErrorCode.INVALID_CONFIG: grpc.StatusCode.INVALID_ARGUMENT,
    FlameErrorCode.INVALID_STATE: grpc.StatusCode.FAILED_PRECONDITION,
    FlameErrorCode.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    FlameErrorCode.INTERNAL: grpc.StatusCode.INTERNAL,
    FlameErrorCode.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    FlameErrorCode.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    FlameErrorCode.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
}

T = TypeVar("T")


def status_of(exc: FlameError) -> grpc.StatusCode:
    if isinstance(exc, LimitExceededError | ResourceExhaustedError):
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    return STATUS[exc.code]


def details_of(exc: FlameError) -> str:
    """The error's message as sent back: clipped to ``bounds.MAX_DETAILS_CHARS``."""
    return clip(exc.message)


def unary(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> T:
        try:
            return await fn(self, request, context)
        except FlameError as exc:
            await context.abort(status_of(exc), details_of(exc))
            raise  # unreachable: abort raises

    return wrapper


def stream(fn: Callable[..., AsyncIterator[T]]) -> Callable[..., AsyncIterator[T]]:
    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[T]:
        try:
            async for item in fn(self, request, context):
                yield item
        except FlameError as exc:
            await context.abort(status_of(exc), details_of(exc))

    return wrapper


# -- decoding requests ---------------------------------------------------------------------------


class DecodeInterceptor(grpc.aio.ServerInterceptor):
    """Parses every request with ``wire_check.decode``: a malformed one (invalid UTF-8, an unknown
    enum value) answers INVALID_ARGUMENT naming the field, where grpc would answer UNKNOWN.

    Unary requests arrive as bytes and are decoded in the handler (an exception in grpc's own
    deserializer cannot choose its status); streamed ones are decoded as they are read, raising
    InvalidArgumentError into the servicer, whose error mapping answers it. Handlers are wrapped
    once per method and reused."""

    def __init__(self) -> None:
        self._wrapped: dict[str, grpc.RpcMethodHandler | None] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        if method in self._wrapped:
            return self._wrapped[method]
        handler = _checked(await continuation(handler_call_details))
        if handler is not None:  # no such method: nothing kept per made-up name
            self._wrapped[method] = handler
        return handler


def _message_class(deserializer: Any) -> Any:
    """The message class behind a generated ``Message.FromString`` deserializer, or None."""
    cls = getattr(deserializer, "__self__", None)
    return cls if isinstance(cls, type) and hasattr(cls, "DESCRIPTOR") else None


def _checked(handler: grpc.RpcMethodHandler | None) -> grpc.RpcMethodHandler | None:
    cls = _message_class(getattr(handler, "request_deserializer", None))
    if handler is None or cls is None:
        return handler
    decode = functools.partial(wire_check.decode, cls)
    if handler.request_streaming:
        return handler._replace(request_deserializer=decode)
    if handler.response_streaming:
        if not inspect.isasyncgenfunction(handler.unary_stream):
            return handler  # not an async generator: left to grpc's own decoding
        behavior, slot = _decoded_stream(handler.unary_stream, decode), "unary_stream"
    else:
        behavior, slot = _decoded_unary(handler.unary_unary, decode), "unary_unary"
    return handler._replace(request_deserializer=None, **{slot: behavior})


async def _decode_or_abort(
    decode: Callable[[bytes], Any], raw: bytes, context: grpc.aio.ServicerContext
) -> Any:
    try:
        return decode(raw)
    except FlameError as exc:
        await context.abort(status_of(exc), details_of(exc))


def _decoded_unary(behavior: Callable[..., Awaitable[Any]], decode: Callable[[bytes], Any]) -> Any:
    async def handle(raw: bytes, context: grpc.aio.ServicerContext) -> Any:
        return await behavior(await _decode_or_abort(decode, raw, context), context)

    return handle


def _decoded_stream(behavior: Callable[..., Any], decode: Callable[[bytes], Any]) -> Any:
    async def handle(raw: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        request = await _decode_or_abort(decode, raw, context)
        async for item in behavior(request, context):
            yield item

    return handle
