"""The one grpc.RpcError -> FlameError mapping, unit-level (through a real server: test_sdk_wire.py)."""

from __future__ import annotations

import grpc
import pytest

import flamepy
from flamepy import _rpc


class _FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (grpc.StatusCode.NOT_FOUND, flamepy.NotFoundError),
        (grpc.StatusCode.ALREADY_EXISTS, flamepy.AlreadyExistsError),
        (grpc.StatusCode.INVALID_ARGUMENT, flamepy.InvalidArgumentError),
        (grpc.StatusCode.OUT_OF_RANGE, flamepy.InvalidArgumentError),
        (grpc.StatusCode.FAILED_PRECONDITION, flamepy.InvalidStateError),
        (grpc.StatusCode.UNAVAILABLE, flamepy.UnavailableError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, flamepy.UnavailableError),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, flamepy.ResourceExhaustedError),
        (grpc.StatusCode.INTERNAL, flamepy.InternalError),
        (grpc.StatusCode.UNKNOWN, flamepy.InternalError),
        (grpc.StatusCode.UNIMPLEMENTED, flamepy.InternalError),
        (grpc.StatusCode.CANCELLED, flamepy.InternalError),
    ],
)
def test_each_status_maps_to_its_error(status: grpc.StatusCode, expected: type) -> None:
    original = _FakeRpcError(status, "session s1 not found")
    with pytest.raises(expected) as info, _rpc.translate("get session 's1'"):
        raise original
    assert type(info.value) is expected
    assert info.value.__cause__ is original
    assert "get session 's1'" in info.value.message
    assert "session s1 not found" in info.value.message


def test_resource_exhausted_says_message_too_large() -> None:
    err = _rpc.map_rpc_error(
        _FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, "Received message larger than max")
    )
    assert "too large" in err.message and "object cache" in err.message
    assert isinstance(err, flamepy.InvalidArgumentError)


def test_resource_exhausted_tells_a_full_disk_from_a_request_limit() -> None:
    full = "the session manager's storage is full (OperationalError: database or disk is full)"
    err = _rpc.map_rpc_error(_FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, full))
    assert type(err) is flamepy.ResourceExhaustedError and "object cache" not in err.message
    limit = "CreateTasks carries 20000 tasks; at most 10000 per request (max_tasks_per_request)"
    err = _rpc.map_rpc_error(_FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, limit))
    assert type(err) is flamepy.InvalidArgumentError and "max_tasks_per_request" in err.message


def test_unimplemented_is_detectable() -> None:
    with pytest.raises(flamepy.FlameError) as info, _rpc.translate():
        raise _FakeRpcError(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
    assert _rpc.is_unimplemented(info.value)
    assert not _rpc.is_unimplemented(flamepy.InternalError("x"))


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("application a already exists", flamepy.AlreadyExistsError),
        ("application a not found", flamepy.NotFoundError),
        ("application a is in use by 2 open sessions", flamepy.InvalidStateError),
        ("name must not be empty", flamepy.InvalidArgumentError),
    ],
)
def test_failed_result_raises_by_message(message: str, expected: type) -> None:
    _rpc.check_result(0, None, "register")
    with pytest.raises(expected, match="register application"):
        _rpc.check_result(1, message, "register application 'a'")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (grpc.StatusCode.ALREADY_EXISTS, flamepy.AlreadyExistsError),
        (grpc.StatusCode.NOT_FOUND, flamepy.NotFoundError),
        (grpc.StatusCode.FAILED_PRECONDITION, flamepy.InvalidStateError),
        (grpc.StatusCode.INVALID_ARGUMENT, flamepy.InvalidArgumentError),
        (grpc.StatusCode.INTERNAL, flamepy.InternalError),
    ],
)
def test_failed_result_with_a_grpc_status_number(status: grpc.StatusCode, expected: type) -> None:
    with pytest.raises(expected, match="boom"):
        _rpc.check_result(status.value[0], "boom", "register application 'a'")


@pytest.mark.parametrize("addr", ["invalid://address", "", "http://", "http://host:notaport"])
def test_invalid_endpoint_is_invalid_config(addr: str) -> None:
    with pytest.raises(flamepy.InvalidConfigError) as info:
        flamepy.connect(addr)
    assert info.value.code == flamepy.FlameErrorCode.INVALID_CONFIG


def test_in_flight_limiter_rejects_zero() -> None:
    with pytest.raises(flamepy.InvalidArgumentError):
        _rpc.InFlightLimiter(0)


def test_a_full_disk_is_not_retried_but_an_outage_is() -> None:
    from flamepy.transport.retry import retryable

    assert not retryable(flamepy.ResourceExhaustedError("the session manager's storage is full"))
    assert retryable(flamepy.UnavailableError("connection refused"))
