"""Pure tests of task timeouts, cancelling tasks and the release backstop, event by event with a
fake clock: what the core decides and which commands it sends to the executor's node."""

from __future__ import annotations

import pytest

from flamepy.errors import InvalidArgumentError, NotFoundError
from flamepy.types import (
    ApplicationAttributes,
    EventCode,
    ExecutorState,
    ResourceRequirement,
    SessionAttributes,
    Shim,
    TaskState,
)
from session_manager import effects
from session_manager import events as ev
from session_manager.clock import FakeClock
from session_manager.core import Core, CoreState
from session_manager.model import RetryPolicy, TaskRecord

STOP = 30.0  # the core's stop timeout in these tests


def make(timeout: float | None = None, retry_on_error: bool = False) -> tuple[Core, FakeClock]:
    clock = FakeClock()
    b = Core(
        CoreState(
            clock=clock,
            default_delay_release=10.0,
            retry=RetryPolicy(3, retry_on_error, timeout),
            stop_timeout=STOP,
        )
    )
    b.handle(ev.RegisterApplication("echo", ApplicationAttributes(command="python")))
    b.handle(ev.CreateSession(SessionAttributes(application="echo", id="s")))
    b.handle(ev.NodeRegistered("n1", ResourceRequirement(1, 8 << 30, 0), (Shim.HOST,)))
    b.drain()
    return b, clock


def bind(b: Core) -> list[effects.InvokeCmd]:
    b.handle(ev.SchedulePass())
    for cmd in b.drain().commands:
        if isinstance(cmd, effects.BindCmd):
            b.handle(ev.ExecutorBound(cmd.node, cmd.executor_id))
    return [c for c in b.drain().commands if isinstance(c, effects.InvokeCmd)]


def task(b: Core, num: int = 1) -> TaskRecord:
    return b.get_session("s").tasks[num]


def cpu_free(b: Core) -> int:
    node = b.get_node("n1")
    assert node is not None
    return node.allocatable.cpu


def stopped(cmd: effects.InvokeCmd, timed_out: bool, message: str) -> ev.TaskResults:
    outcome = ev.TaskOutcome(
        cmd.executor_id,
        "s",
        cmd.task_id,
        -1,
        message=message,
        attempt=cmd.attempt,
        timed_out=timed_out,
        cancelled=not timed_out,
        service_stopped=True,
    )
    return ev.TaskResults(cmd.node, (outcome,))


# -- timeouts -----------------------------------------------------------------------------------


def test_no_timeout_by_default_and_no_backstop_entries() -> None:
    b, _ = make()
    b.handle(ev.CreateTasks("s", [b"x"]))
    [cmd] = bind(b)
    assert cmd.timeout is None
    assert b.next_deadline is None  # nothing per task without a timeout


def test_the_timeout_travels_with_the_task_and_its_expiry_fails_it_and_releases_the_executor() -> None:
    b, _ = make(timeout=2.0)
    b.handle(ev.CreateTasks("s", [b"x", b"y"]))
    [cmd] = bind(b)
    assert cmd.timeout == 2.0
    b.handle(stopped(cmd, True, "timed out after 2s"))
    rec = task(b)
    assert rec.state == TaskState.FAILED
    assert (rec.events[-1].code, rec.events[-1].message) == (
        EventCode.FAILED,
        "timed out after 2s (attempt 1)",
    )
    [ex] = b.executors()
    assert ex.state == ExecutorState.RELEASING  # its service is gone: nothing more is sent to it
    assert not [c for c in b.drain().commands if isinstance(c, effects.InvokeCmd)]
    b.handle(ev.ExecutorReleased("n1", cmd.executor_id))
    assert cpu_free(b) == 1 and not b.executors()
    [second] = bind(b)  # the next task runs on a fresh executor
    assert (second.task_id, second.attempt) != (cmd.task_id, cmd.attempt)
    assert second.executor_id != cmd.executor_id


def test_a_timeout_is_the_tasks_own_failure_retried_only_with_retry_on_error() -> None:
    b, _ = make(timeout=2.0, retry_on_error=True)
    b.handle(ev.CreateTasks("s", [b"x"]))
    [cmd] = bind(b)
    b.handle(stopped(cmd, True, "timed out after 2s"))
    rec = task(b)
    assert rec.state == TaskState.PENDING and rec.retries == 1
    assert rec.history == ["attempt 1: timed out after 2s (attempt 1)"]


def test_session_policy_overrides_the_application_default() -> None:
    b, _ = make()
    assert b.handle(ev.SetRetryPolicy("application", "echo", task_timeout=60.0)).task_timeout == 60.0
    assert b.handle(ev.SetRetryPolicy("session", "s", task_timeout=5.0)).task_timeout == 5.0
    b.handle(ev.CreateTasks("s", [b"x"]))
    [cmd] = bind(b)
    assert cmd.timeout == 5.0
    assert b.handle(ev.SetRetryPolicy("session", "s", task_timeout=0)).task_timeout is None
    with pytest.raises(InvalidArgumentError, match="task_timeout_s"):
        b.handle(ev.SetRetryPolicy("session", "s", task_timeout=-1))


def test_backstop_a_task_with_no_answer_past_timeout_plus_stop_timeout_drops_its_executor() -> None:
    b, clock = make(timeout=2.0)
    b.handle(ev.CreateTasks("s", [b"x"]))
    [cmd] = bind(b)
    assert cpu_free(b) == 0
    clock.advance(2.0 + STOP - 0.1)
    wake = b.handle(ev.CheckDeadlines())
    assert task(b).state == TaskState.RUNNING and wake == pytest.approx(0.1)
    clock.advance(0.2)
    assert b.handle(ev.CheckDeadlines()) is None
    rec = task(b)
    assert rec.state == TaskState.FAILED
    assert rec.events[-1].message.startswith("timed out after 2s (attempt 1; executor ")
    out = b.drain()
    assert effects.ReleaseCmd("n1", cmd.executor_id) in out.commands
    assert not b.executors() and cpu_free(b) == 1  # resources back
    late = ev.TaskOutcome(cmd.executor_id, "s", "1", 0, b"late", attempt=1)
    b.handle(ev.TaskResults("n1", (late,)))  # a late answer changes nothing
    assert task(b).state == TaskState.FAILED


def test_backstop_entries_of_tasks_that_finished_are_skipped() -> None:
    b, clock = make(timeout=2.0)
    b.handle(ev.CreateTasks("s", [b"x"]))
    [cmd] = bind(b)
    b.handle(ev.TaskResults("n1", (ev.TaskOutcome(cmd.executor_id, "s", "1", 0, b"ok", attempt=1),)))
    clock.advance(3600)
    b.handle(ev.CheckDeadlines())
    assert len(b.executors()) == 1 and b.executors()[0].state == ExecutorState.BOUND


# -- the release backstop -----------------------------------------------------------------------


def test_an_executor_releasing_past_the_stop_timeout_is_dropped_and_its_resources_returned() -> None:
    b, clock = make()
    b.handle(ev.CreateTasks("s", [b"x"]))
    [cmd] = bind(b)
    b.handle(ev.TaskResults("n1", (ev.TaskOutcome(cmd.executor_id, "s", "1", 0, b"ok", attempt=1),)))
    b.handle(ev.CloseSession("s"))
    [ex] = b.executors()
    assert ex.state == ExecutorState.RELEASING and cpu_free(b) == 0
    clock.advance(STOP + 0.01)
    b.handle(ev.CheckDeadlines())
    assert not b.executors() and cpu_free(b) == 1
    b.handle(ev.CreateSession(SessionAttributes(application="echo", id="s2")))
    b.handle(ev.CreateTasks("s2", [b"z"]))
    b.handle(ev.SchedulePass())
    assert [c for c in b.drain().commands if isinstance(c, effects.BindCmd)]  # a new session binds


# -- cancel -------------------------------------------------------------------------------------


def test_cancel_a_pending_task_at_once() -> None:
    b, _ = make()
    b.handle(ev.CreateTasks("s", [b"x"]))
    snap = b.handle(ev.CancelTask("s", "1", "not needed"))
    assert snap is not None and snap.state == TaskState.CANCELLED
    assert (snap.events[-1].code, snap.events[-1].message) == (EventCode.CANCELLED, "not needed")
    assert not b.get_session("s").pending
    assert not [c for c in b.drain().commands if isinstance(c, effects.CancelCmd)]


def test_cancel_a_running_task_tells_its_executor_and_later_tasks_run() -> None:
    b, _ = make()
    b.handle(ev.CreateTasks("s", [b"x", b"y"]))
    [cmd] = bind(b)
    snap = b.handle(ev.CancelTask("s", "1", "cancelled by the client"))
    assert snap is not None and snap.state == TaskState.CANCELLED
    assert snap.events[-1].code == EventCode.CANCELLED
    [cancel] = [c for c in b.drain().commands if isinstance(c, effects.CancelCmd)]
    assert cancel == effects.CancelCmd("n1", cmd.executor_id, "s", "1", 1, "cancelled by the client")
    again = b.handle(ev.CancelTask("s", "1", "twice"))  # idempotent
    assert again is not None and again.events == snap.events
    assert not b.drain().commands
    b.handle(stopped(cmd, False, "cancelled by the client"))  # the executor stopped the service
    assert task(b).state == TaskState.CANCELLED
    b.handle(ev.ExecutorReleased("n1", cmd.executor_id))
    [second] = bind(b)
    assert (second.task_id, second.attempt) == ("2", 1) and second.executor_id != cmd.executor_id


def test_cancel_of_an_unknown_task_is_not_found_and_of_a_finished_one_in_storage_none() -> None:
    b, _ = make()
    b.handle(ev.CreateTasks("s", [b"x"]))
    [cmd] = bind(b)
    b.handle(ev.TaskResults("n1", (ev.TaskOutcome(cmd.executor_id, "s", "1", 0, b"ok", attempt=1),)))
    b.handle(ev.TasksDurable([task(b).snapshot()]))
    assert b.handle(ev.CancelTask("s", "1")) is None  # finished and durable: the shell reads storage
    with pytest.raises(NotFoundError):
        b.handle(ev.CancelTask("s", "7"))
    with pytest.raises(NotFoundError):
        b.handle(ev.CancelTask("nope", "1"))


def test_delete_session_cancels_running_tasks_at_their_executors() -> None:
    b, _ = make()
    b.handle(ev.CreateTasks("s", [b"x"]))
    [cmd] = bind(b)
    b.handle(ev.DeleteSession("s"))
    cmds = b.drain().commands
    assert effects.CancelCmd("n1", cmd.executor_id, "s", "1", 1, "session deleted") in cmds
    assert effects.ReleaseCmd("n1", cmd.executor_id) in cmds


def test_server_flags() -> None:
    from session_manager.__main__ import parse_args

    cfg, _ = parse_args([])
    assert (cfg.task_timeout, cfg.stop_timeout) == (None, 30.0)
    cfg, _ = parse_args(["--task-timeout", "7200", "--stop-timeout", "5"])
    assert (cfg.task_timeout, cfg.stop_timeout) == (7200.0, 5.0)
    with pytest.raises(SystemExit):
        parse_args(["--task-timeout", "-1"])
