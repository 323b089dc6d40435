"""The one place mapping FlameError to gRPC status codes on the server side."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from flamepy.errors import FlameError, FlameErrorCode

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
    return STATUS[exc.code]


def unary(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> T:
        try:
            return await fn(self, request, context)
        except FlameError as exc:
            await context.abort(status_of(exc), exc.message)
            raise  # unreachable: abort raises

    return wrapper


def stream(fn: Callable[..., AsyncIterator[T]]) -> Callable[..., AsyncIterator[T]]:
    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[T]:
        try:
            async for item in fn(self, request, context):
                yield item
        except FlameError as exc:
            await context.abort(status_of(exc), exc.message)

    return wrapper
