"""Pure unit tests: the state machine table, resources detection, conversion, socket paths."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from executor import resources
from executor.backoff import Backoff
from executor.config import parse_endpoint
from executor.convert import decode_manager_message, encode_node_message
from executor.events import TaskOutcome
from executor.fake_launcher import FakeLauncher
from executor.shim import MAX_SOCKET_PATH, HostShim, ShimSettings
from executor.state import (
    ALLOWED_TRANSITIONS,
    ExecutorPhase,
    IllegalTransitionError,
    PhaseTracker,
    check_transition,
)
from flamepy.errors import InvalidConfigError
from flamepy.proto import backend_pb2

P = ExecutorPhase


def test_happy_path_transitions() -> None:
    tracker = PhaseTracker("e1")
    for phase in (P.BOUND, P.RUNNING, P.BOUND, P.RUNNING, P.RELEASING, P.RELEASED):
        tracker.advance(phase)
    assert tracker.history[0] is P.BINDING and tracker.phase is P.RELEASED


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (P.BINDING, P.RUNNING),
        (P.BINDING, P.RELEASED),
        (P.BOUND, P.BINDING),
        (P.RELEASING, P.BOUND),
        (P.RELEASING, P.RUNNING),
        (P.CRASHED, P.BOUND),
        (P.RELEASED, P.BOUND),
        (P.BIND_FAILED, P.BOUND),
    ],
)
def test_illegal_transitions_are_rejected(current: ExecutorPhase, target: ExecutorPhase) -> None:
    tracker = PhaseTracker("e9", current)
    with pytest.raises(IllegalTransitionError) as info:
        tracker.advance(target)
    assert f"illegal transition {current.value} -> {target.value}" in info.value.message
    assert "'e9'" in info.value.message
    assert tracker.phase is current  # unchanged


def test_table_covers_every_phase_and_terminals() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(P)
    assert {p for p in P if p.is_terminal} == {P.RELEASED, P.BIND_FAILED}
    for current, targets in ALLOWED_TRANSITIONS.items():
        for target in P:
            if target in targets:
                check_transition("e", current, target)
            else:
                with pytest.raises(IllegalTransitionError):
                    check_transition("e", current, target)


def test_no_gpu_when_nvml_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    assert resources.detect_gpu_count() == 0


def test_no_gpu_when_driver_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import pynvml

    def no_driver() -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", no_driver)
    assert resources.detect_gpu_count() == 0
    assert resources.detect_capacity({}).gpu == 0


def test_capacity_overrides() -> None:
    cap = resources.detect_capacity(
        {"FLAME_NODE_CPUS": "7", "FLAME_NODE_MEMORY": "512m", "FLAME_FAKE_GPUS": "4"}
    )
    assert (cap.cpu, cap.memory, cap.gpu) == (7, 512 * 1024**2, 4)
    with pytest.raises(InvalidConfigError, match="FLAME_FAKE_GPUS"):
        resources.detect_capacity({"FLAME_FAKE_GPUS": "two"})


def test_endpoint_parsing() -> None:
    assert parse_endpoint("http://127.0.0.1:8080").address == "127.0.0.1:8080"
    assert parse_endpoint("https://sm:443").secure
    with pytest.raises(InvalidConfigError):
        parse_endpoint("ftp://x:1")


def test_backoff_is_capped_and_resets() -> None:
    b = Backoff(0.2, 5.0)
    delays = [b.next() for _ in range(8)]
    assert delays[:3] == [0.2, 0.4, 0.8] and max(delays) == 5.0
    b.reset()
    assert b.next() == 0.2


def test_outcome_output_none_vs_empty() -> None:
    none = encode_node_message(TaskOutcome("e", "s", "t", 0, output=None)).task_result
    empty = encode_node_message(TaskOutcome("e", "s", "t", 0, output=b"")).task_result
    assert not none.HasField("output") and empty.HasField("output")


def test_decode_invoke_keeps_unset_input() -> None:
    msg = backend_pb2.ManagerMessage(invoke_task=backend_pb2.InvokeTask(executor_id="e"))
    assert decode_manager_message(msg).input is None  # type: ignore[union-attr]


def test_socket_path_falls_back_when_work_dir_is_long(tmp_path: Path) -> None:
    long_dir = tmp_path / ("d" * 120)
    shim = HostShim(ShimSettings(work_dir=long_dir, frontend_endpoint="x"), FakeLauncher())
    path = shim.socket_path("executor-with-a-long-id-" + "x" * 80)
    assert len(str(path)) < MAX_SOCKET_PATH and not str(path).startswith(str(long_dir))
    short = HostShim(ShimSettings(work_dir=Path("/w"), frontend_endpoint="x"), FakeLauncher())
    assert short.socket_path("e1").parent == Path("/w/s")


# -- outcome coalescing (executor.coalesce) -------------------------------------------------------


async def test_outcomes_are_held_while_more_are_coming_and_let_out_together() -> None:
    from executor.coalesce import OutcomeCoalescer

    out: list[str] = []
    held = OutcomeCoalescer(lambda o: out.append(o.task_id), hold_s=60)
    held.add(TaskOutcome("e1", "s1", "1", 0, output=b""), more_coming=True)
    held.add(TaskOutcome("e1", "s1", "2", 0, output=b""), more_coming=True)
    assert out == []
    held.add(TaskOutcome("e1", "s1", "3", 0, output=b""), more_coming=False)  # the executor is idle
    assert out == ["1", "2", "3"]
    held.add(TaskOutcome("e1", "s1", "4", 0, output=b""), more_coming=False)  # a lone result: at once
    assert out == ["1", "2", "3", "4"]


async def test_held_outcomes_are_let_out_after_the_hold_time() -> None:
    from executor.coalesce import OutcomeCoalescer

    let_out = asyncio.Event()
    out: list[str] = []

    def emit(o: TaskOutcome) -> None:
        out.append(o.task_id)
        let_out.set()

    held = OutcomeCoalescer(emit, hold_s=0.001)
    held.add(TaskOutcome("e1", "s1", "1", 0, output=b""), more_coming=True)  # the next task runs long
    assert out == []
    await asyncio.wait_for(let_out.wait(), 10)
    assert out == ["1"]


async def test_at_most_max_held_outcomes_wait() -> None:
    from executor.coalesce import MAX_HELD, OutcomeCoalescer

    out: list[str] = []
    held = OutcomeCoalescer(lambda o: out.append(o.task_id), hold_s=60)
    for i in range(MAX_HELD - 1):
        held.add(TaskOutcome("e1", "s1", str(i), 0), more_coming=True)
    assert out == []
    held.add(TaskOutcome("e1", "s1", "last", 0), more_coming=True)
    assert len(out) == MAX_HELD and out[-1] == "last"
