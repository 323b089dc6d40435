"""A node is believed only about what it was given (``session_manager.core.trust``), sans-IO."""

from __future__ import annotations

import logging

import pytest

from flamepy.errors import AlreadyExistsError
from flamepy.types import (
    ApplicationAttributes,
    ExecutorState,
    NodeState,
    ResourceRequirement,
    SessionAttributes,
    Shim,
    TaskState,
)
from session_manager import effects
from session_manager import events as ev
from session_manager.clock import FakeClock
from session_manager.core import Core, CoreState


@pytest.fixture
def core() -> Core:
    """Nodes "real" and "rogue"; session "s" with one task running on an executor of "real"."""
    c = Core(CoreState(clock=FakeClock(), default_delay_release=10.0, prefetch=1))
    c.handle(ev.RegisterApplication("echo", ApplicationAttributes(command="python")))
    c.handle(ev.NodeRegistered("real", ResourceRequirement(1, 8 << 30, 0), (Shim.HOST,)))
    c.handle(ev.CreateSession(SessionAttributes(application="echo", id="s")))
    c.handle(ev.CreateTasks("s", [b"x"]))
    c.handle(ev.SchedulePass())
    (bind,) = [cmd for cmd in c.drain().commands if isinstance(cmd, effects.BindCmd)]
    c.handle(ev.ExecutorBound("real", bind.executor_id))
    c.handle(ev.NodeRegistered("rogue", ResourceRequirement(1, 8 << 30, 0), (Shim.HOST,)))
    c.drain()
    return c


def _executor(c: Core) -> str:
    (ex,) = c.executors()
    return ex.id


def _task(c: Core):  # type: ignore[no-untyped-def]
    task = c.find_task("s", "1")
    assert task is not None
    return task


def test_a_result_from_another_node_is_dropped_and_counted(core: Core, caplog) -> None:
    eid = _executor(core)
    forged = ev.TaskOutcome(eid, "s", "1", 0, b"forged", attempt=1)
    with caplog.at_level(logging.DEBUG, logger="session_manager.core.trust"):
        for _ in range(3):
            core.handle(ev.TaskResults("rogue", (forged,)))
    assert _task(core).state == TaskState.RUNNING and _task(core).output is None
    assert not core.drain().tasks_changed
    assert core.get_node("rogue").rejected_reports == 3  # type: ignore[union-attr]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "rogue" in warnings[0].getMessage() and eid in warnings[0].getMessage()
    assert "TaskResults-" in warnings[0].getMessage()  # the stimulus id of the dropped report
    core.handle(ev.TaskResults("real", (ev.TaskOutcome(eid, "s", "1", 0, b"real", attempt=1),)))
    assert _task(core).state == TaskState.SUCCEED and _task(core).output == b"real"


def test_executor_reports_from_another_node_change_nothing(core: Core) -> None:
    eid = _executor(core)
    core.handle(ev.ExecutorReleased("rogue", eid, "forged crash"))
    core.handle(ev.BindFailed("rogue", eid, "forged"))
    core.handle(ev.ExecutorBound("rogue", eid))
    (ex,) = core.executors()
    assert ex.id == eid and ex.state == ExecutorState.BOUND and ex.inflight
    assert _task(core).state == TaskState.RUNNING
    assert core.get_node("rogue").rejected_reports == 3  # type: ignore[union-attr]
    assert core.get_node("real").rejected_reports == 0  # type: ignore[union-attr]


def test_a_result_for_a_task_the_executor_was_not_sent_is_ignored(core: Core) -> None:
    eid = _executor(core)
    core.handle(ev.CreateTasks("s", [b"y"]))  # pending: the only executor holds task 1 (prefetch 1)
    one, two = _task(core), core.find_task("s", "2")
    assert two is not None and two.state == TaskState.PENDING
    core.handle(ev.TaskResults("real", (ev.TaskOutcome(eid, "s", "1", 0, b"old", attempt=7),)))
    core.handle(ev.TaskResults("real", (ev.TaskOutcome(eid, "s", "2", 0, b"early"),)))
    assert one.state == TaskState.RUNNING and one.output is None
    assert two.state == TaskState.PENDING and two.output is None
    core.handle(ev.TaskResults("real", (ev.TaskOutcome(eid, "s", "1", 0, b"one", attempt=1),)))
    assert one.state == TaskState.SUCCEED and two.state == TaskState.RUNNING  # sent next


def test_a_second_stream_cannot_take_a_connected_nodes_name(core: Core) -> None:
    eid = _executor(core)
    with pytest.raises(AlreadyExistsError, match="node 'real' .*a node of that name is connected"):
        core.handle(ev.NodeRegistered("real", ResourceRequirement(64, 8 << 30, 0), (Shim.HOST,)))
    assert core.get_node("real").state == NodeState.READY  # type: ignore[union-attr]
    assert [e.id for e in core.executors()] == [eid]
    assert _task(core).state == TaskState.RUNNING


def test_the_name_registers_again_once_its_stream_ended(core: Core) -> None:
    core.handle(ev.NodeLost("real"))
    core.handle(ev.NodeRegistered("real", ResourceRequirement(1, 8 << 30, 0), (Shim.HOST,)))
    assert core.get_node("real").state == NodeState.READY  # type: ignore[union-attr]
    assert _task(core).state == TaskState.PENDING  # its executor was lost: the task runs again


def test_the_name_registers_again_after_the_node_timed_out(core: Core) -> None:
    clock = core.clock
    assert isinstance(clock, FakeClock)
    clock.advance(core.node_timeout + 1)
    core.handle(ev.CheckLiveness())
    core.handle(ev.NodeRegistered("real", ResourceRequirement(1, 8 << 30, 0), (Shim.HOST,)))
    assert core.get_node("real").state == NodeState.READY  # type: ignore[union-attr]
