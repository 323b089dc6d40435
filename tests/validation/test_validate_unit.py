"""The validation helpers on their own (no network)."""

from __future__ import annotations

import pytest

from flamepy.common.bounds import clip, quote
from flamepy.common.wire_check import decode
from flamepy.errors import InvalidArgumentError
from flamepy.proto import backend_pb2 as be
from flamepy.proto import extensions_pb2 as ext
from flamepy.proto import types_pb2 as pb
from session_manager import events, validate
from session_manager.limits import Limits, limits_from


def test_quote_cuts_long_values_and_says_how_long() -> None:
    assert quote("abc") == "'abc'"
    text = quote("x" * 1_000_000)
    assert len(text) < 100 and text.endswith("… (1000000 chars)")
    assert len(clip("y" * 10_000, 100)) <= 100


def test_decode_names_the_repeated_field_with_bad_utf8() -> None:
    good = ext.CreateTasksRequest(session_id="s", inputs=[ext.TaskInput(input=b"a")] * 3).SerializeToString()
    bad_outcome = b"\x1a\x02\xff\xff"  # TaskOutcome.task_id = b"\xff\xff"
    outcomes = b"\x0a\x00" * 2 + b"\x0a" + bytes([len(bad_outcome)]) + bad_outcome
    payload = b"\x3a" + bytes([len(outcomes)]) + outcomes  # NodeMessage.task_results
    assert decode(ext.CreateTasksRequest, good).session_id == "s"
    with pytest.raises(InvalidArgumentError, match=r"task_results\.outcomes\[2\]\.task_id: invalid UTF-8"):
        decode(be.NodeMessage, payload)


def test_decode_rejects_unknown_enum_values_in_nested_repeated_fields() -> None:
    msg = be.NodeMessage(register=be.RegisterNode(shims=[pb.Host, 5]))
    with pytest.raises(InvalidArgumentError, match=r"register\.shims: unknown Shim value 5"):
        decode(be.NodeMessage, msg.SerializeToString())


def test_long_node_messages_are_clipped_not_rejected() -> None:
    limits = Limits(max_message_chars=100)
    ev = events.BindFailed("n", "e1", "boom " * 10_000)
    clipped = validate.node_event(ev, limits)
    assert isinstance(clipped, events.BindFailed) and len(clipped.message) <= 100
    outcome = events.TaskOutcome("e1", "s", "1", 1, None, "trace " * 10_000)
    results = validate.node_event(events.TaskResults("n", [outcome]), limits)
    assert isinstance(results, events.TaskResults)
    assert len(results.outcomes[0].message or "") <= 100
    short = events.TaskResults("n", [events.TaskOutcome("e1", "s", "1", 0)])
    assert validate.node_event(short, limits) is short  # the hot path allocates nothing


def test_limits_are_set_by_name() -> None:
    assert limits_from(["max_tasks_per_request=5", "max-cpu=1_024"]) == Limits(
        max_tasks_per_request=5, max_cpu=1024
    )
    for bad in ("nope=1", "max_cpu", "max_cpu=0", "max_cpu=x"):
        with pytest.raises(ValueError):
            limits_from([bad])


def test_the_decode_interceptor_keeps_nothing_for_made_up_methods() -> None:
    import asyncio
    from types import SimpleNamespace

    from flamepy.common.grpc_status import DecodeInterceptor

    interceptor = DecodeInterceptor()

    async def continuation(details: object) -> None:
        return None  # no such method

    async def scenario() -> None:
        for i in range(1000):
            details = SimpleNamespace(method=f"/made.up/M{i}", invocation_metadata=())
            assert await interceptor.intercept_service(continuation, details) is None  # type: ignore[arg-type]
        assert interceptor._wrapped == {}

    asyncio.run(scenario())
