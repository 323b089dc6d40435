"""JSON and human formatting of our dataclasses."""

from __future__ import annotations

import json

import pytest

from flamepy.cli.output import (
    enum_name,
    format_duration,
    format_time,
    preview,
    to_jsonable,
)
from flamepy.cluster import wait_until
from flamepy.types import (
    Executor,
    ExecutorState,
    NodeState,
    ResourceRequirement,
    SessionAttributes,
    Task,
    TaskState,
)


def test_enum_names_are_wire_spelling() -> None:
    assert enum_name(NodeState.NOT_READY) == "NotReady"
    assert enum_name(TaskState.SUCCEED) == "Succeed"
    assert enum_name(ExecutorState.BOUND) == "Bound"


def test_to_jsonable_dataclasses_round_trip_through_json() -> None:
    ex = Executor("e-1", "n", ExecutorState.IDLE, None, ResourceRequirement(1, 1 << 30, 0))
    doc = json.loads(json.dumps(to_jsonable(ex)))
    assert doc == {
        "id": "e-1",
        "node": "n",
        "state": "Idle",
        "session_id": None,
        "resreq": {"cpu": 1, "memory": 1 << 30, "gpu": 0},
        "shim": "Host",
    }
    attrs = SessionAttributes("app", "s", common_data=b"\x80", resreq=None)
    assert to_jsonable(attrs)["common_data"] == {"base64": "gA=="}
    task = Task("1", "s", TaskState.PENDING, input=b"", output=None)
    assert to_jsonable(task)["input"] == "" and to_jsonable(task)["events"] == []


def test_human_formats() -> None:
    assert format_time(0) == "-" and format_time(None) == "-"
    assert len(format_time(1_732_530_000_000)) == len("2024-11-25 10:20:00")
    assert format_duration(1000, 1250) == "250ms"
    assert format_duration(1000, 4000) == "3.0s"
    assert format_duration(1000, None) == "-"
    assert preview(None) == "-"
    assert preview(b"\xff") == "<1 bytes, binary>"
    assert preview(b"a" * 100).endswith("(100 bytes)")


def test_wait_until_returns_value_times_out_and_propagates() -> None:
    calls = iter([None, 0, "ready"])
    assert wait_until(lambda: next(calls), timeout=5, interval=0.001) == "ready"
    with pytest.raises(TimeoutError, match="thing not reached"):
        wait_until(lambda: False, timeout=0.01, interval=0.001, what="thing")

    def boom() -> bool:
        raise RuntimeError("died")

    with pytest.raises(RuntimeError, match="died"):
        wait_until(boom, timeout=5)


def test_human_bytes() -> None:
    from flamepy.cli.output import human_bytes

    assert human_bytes(4 << 30) == "4g"
    assert human_bytes(512 << 20) == "512m"
    assert human_bytes(24683656 * 1024) == "23.5Gi"
    assert human_bytes(0) == "0"
