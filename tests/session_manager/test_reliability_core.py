"""Pure tests of re-runs, event by event with a fake clock: attempts, superseded results, the retry
limit, node liveness, dispatching requeued tasks at once, recovery and idempotency keys."""

from __future__ import annotations

import pytest

from flamepy.errors import InvalidArgumentError, NotFoundError
from flamepy.types import (
    ApplicationAttributes,
    NodeState,
    ResourceRequirement,
    SessionAttributes,
    SessionState,
    Shim,
    Task,
    TaskState,
)
from session_manager import effects
from session_manager import events as ev
from session_manager.clock import FakeClock
from session_manager.core import Core, CoreState
from session_manager.core.state import REQUEUED
from session_manager.model import RetryPolicy, TaskRecord


def make(max_retries: int = 3, retry_on_error: bool = False, node_timeout: float = 10.0) -> Core:
    b = Core(
        CoreState(
            clock=FakeClock(),
            default_delay_release=10.0,
            retry=RetryPolicy(max_retries, retry_on_error),
            node_timeout=node_timeout,
        )
    )
    b.handle(ev.RegisterApplication("echo", ApplicationAttributes(command="python")))
    b.handle(ev.CreateSession(SessionAttributes(application="echo", id="s")))
    b.drain()
    return b


def add_node(b: Core, name: str, cpu: int = 1) -> None:
    b.handle(ev.NodeRegistered(name, ResourceRequirement(cpu, 8 << 30, 0), (Shim.HOST,)))


def bind(b: Core) -> list[effects.InvokeCmd]:
    """One scheduling pass; every new executor reports bound; the task pushes that follow."""
    b.handle(ev.SchedulePass())
    out = b.drain()
    for cmd in out.commands:
        if isinstance(cmd, effects.BindCmd):
            b.handle(ev.ExecutorBound(cmd.node, cmd.executor_id))
    return [c for c in b.drain().commands if isinstance(c, effects.InvokeCmd)]


def invokes(b: Core) -> list[effects.InvokeCmd]:
    return [c for c in b.drain().commands if isinstance(c, effects.InvokeCmd)]


def task(b: Core, num: int = 1) -> TaskRecord:
    return b.get_session("s").tasks[num]


def crash(b: Core, cmd: effects.InvokeCmd, code: int = -9) -> None:
    outcome = ev.TaskOutcome(
        cmd.executor_id,
        "s",
        cmd.task_id,
        code,
        message=f"service process exited with code {code}\nstderr...",
        attempt=cmd.attempt,
        crashed=True,
    )
    b.handle(ev.TaskResults(cmd.node, (outcome,)))


def test_dispatch_persists_running_with_attempt_executor_and_node() -> None:
    b = make()
    add_node(b, "n1")
    b.handle(ev.CreateTasks("s", [b"x"]))
    b.handle(ev.SchedulePass())
    [bind_cmd] = [c for c in b.drain().commands if isinstance(c, effects.BindCmd)]
    b.handle(ev.ExecutorBound("n1", bind_cmd.executor_id))
    out = b.drain()
    [cmd] = [c for c in out.commands if isinstance(c, effects.InvokeCmd)]
    assert cmd.attempt == 1
    [update] = [r for r in out.records if isinstance(r, effects.UpdateTask)]
    assert update.task.state == TaskState.RUNNING
    assert update.run == effects.TaskRun(1, bind_cmd.executor_id, "n1", 0, (), ran_on="n1")
    assert "attempt 1" in (update.task.events[-1].message or "")


def test_node_lost_records_the_requeue_with_its_attempt_and_runs_it_again_as_the_next() -> None:
    b = make()
    add_node(b, "n1")
    b.handle(ev.CreateTasks("s", [b"x"]))
    [first] = bind(b)
    b.handle(ev.NodeLost("n1"))
    rec = task(b)
    assert rec.state == TaskState.PENDING and rec.retries == 1
    last = rec.events[-1]
    assert (
        last.code == REQUEUED and last.message == "requeued after attempt 1: node n1 lost (its stream ended)"
    )
    add_node(b, "n2")
    [second] = bind(b)
    assert (second.attempt, second.node) == (2, "n2") and first.attempt == 1


def test_a_result_for_a_superseded_attempt_is_ignored() -> None:
    b = make()
    add_node(b, "n1")
    b.handle(ev.CreateTasks("s", [b"x"]))
    [first] = bind(b)
    give_back = ev.TaskOutcome(first.executor_id, "s", "1", -1, message="busy", requeue=True, attempt=1)
    b.handle(ev.TaskResults("n1", (give_back,)))
    b.handle(ev.SchedulePass())  # requeued: dealt again to the same, idle executor
    [second] = invokes(b)
    assert (second.executor_id, second.attempt) == (first.executor_id, 2)
    late = ev.TaskOutcome(first.executor_id, "s", "1", 0, b"old", attempt=1)
    b.handle(ev.TaskResults("n1", (late,)))
    assert task(b).state == TaskState.RUNNING and task(b).output is None
    b.handle(ev.TaskResults("n1", (ev.TaskOutcome(first.executor_id, "s", "1", 0, b"new", attempt=2),)))
    out = b.drain()
    assert [(t.state, t.output) for t in out.tasks_changed] == [(TaskState.SUCCEED, b"new")]


def test_a_result_from_an_executor_that_no_longer_holds_the_task_is_ignored() -> None:
    b = make()
    add_node(b, "n1")
    add_node(b, "n2")
    b.handle(ev.CreateTasks("s", [b"x"]))
    [first] = bind(b)
    b.handle(ev.NodeLost(first.node))
    [second] = bind(b)
    assert second.node != first.node
    b.handle(
        ev.TaskResults(first.node, (ev.TaskOutcome(first.executor_id, "s", "1", 0, b"stale", attempt=1),))
    )
    assert task(b).state == TaskState.RUNNING


def test_service_death_is_retried_max_retries_times_then_fails_with_the_history() -> None:
    b = make(max_retries=2)
    add_node(b, "n1")
    b.handle(ev.CreateTasks("s", [b"x"]))
    [cmd] = bind(b)
    for attempt in (1, 2):
        crash(b, cmd)
        assert task(b).state == TaskState.PENDING and task(b).events[-1].code == REQUEUED
        b.handle(ev.ExecutorReleased("n1", cmd.executor_id, "service process exited"))
        [cmd] = bind(b)
        assert cmd.attempt == attempt + 1
    crash(b, cmd)
    out = b.drain()
    [final] = [t for t in out.tasks_changed if t.state.is_terminal]
    assert final.state == TaskState.FAILED and final.events[-1].code == int(TaskState.FAILED)
    assert final.message == (
        "failed after 3 attempts: attempt 1: service process exited with code -9 (node n1); "
        "attempt 2: service process exited with code -9 (node n1); "
        "attempt 3: service process exited with code -9 (node n1)"
    )


def test_only_the_running_head_of_a_lost_executor_is_charged() -> None:
    b = make(max_retries=0)
    add_node(b, "n1")
    b.get_session("s").task_time = 0.001  # short tasks: an executor holds several
    b.handle(ev.CreateTasks("s", [b"1", b"2", b"3"]))
    pushed = bind(b)
    assert len(pushed) == 3
    b.handle(ev.NodeLost("n1"))
    out = b.drain()
    assert {t.id: t.state for t in out.tasks_changed if t.id != "1" or t.state.is_terminal} == {
        "1": TaskState.FAILED,
        "2": TaskState.PENDING,
        "3": TaskState.PENDING,
    }


def test_application_errors_fail_at_once_unless_retry_on_error() -> None:
    for retry_on_error in (False, True):
        b = make(max_retries=1, retry_on_error=retry_on_error)
        add_node(b, "n1")
        b.handle(ev.CreateTasks("s", [b"x"]))
        [cmd] = bind(b)
        b.handle(
            ev.TaskResults("n1", (ev.TaskOutcome(cmd.executor_id, "s", "1", 1, None, "boom", attempt=1),))
        )
        if not retry_on_error:
            assert task(b).state == TaskState.FAILED and task(b).message == "boom"
            continue
        [again] = invokes(b)  # the executor is fine: the task runs again on it at once
        assert again.attempt == 2 and task(b).events[-2].code == REQUEUED
        b.handle(
            ev.TaskResults("n1", (ev.TaskOutcome(cmd.executor_id, "s", "1", 1, None, "boom", attempt=2),))
        )
        assert task(b).state == TaskState.FAILED
        assert task(b).message == "failed after 2 attempts: attempt 1: boom; attempt 2: boom"


def test_a_silent_node_is_not_ready_after_the_timeout_and_its_tasks_run_elsewhere() -> None:
    b = make(node_timeout=10.0)
    clock = b.clock
    assert isinstance(clock, FakeClock)
    add_node(b, "n1")
    b.handle(ev.CreateTasks("s", [b"x"]))
    [cmd] = bind(b)
    add_node(b, "n2")
    clock.advance(6.0)
    b.handle(ev.NodeHeartbeat("n2"))
    assert b.handle(ev.CheckLiveness()) == 4.0  # n1 times out first
    clock.advance(4.5)
    wake = b.handle(ev.CheckLiveness())
    assert wake == 5.5  # n2 heard 4.5 s ago
    out = b.drain()
    assert effects.DropNodeCmd("n1") in out.commands
    n1 = b.get_node("n1")
    assert n1 is not None and n1.state == NodeState.NOT_READY and not n1.executors
    rec = task(b)
    assert rec.state == TaskState.PENDING and "node n1 lost (silent for 10.5 s)" in (rec.message or "")
    [again] = bind(b)
    assert (again.node, again.attempt) == ("n2", 2)
    b.handle(ev.TaskResults("n1", (ev.TaskOutcome(cmd.executor_id, "s", "1", 0, b"late", attempt=1),)))
    assert task(b).state == TaskState.RUNNING  # the silent node's late result is ignored
    add_node(b, "n1")  # it comes back: registers afresh, with nothing of its old executors
    n1 = b.get_node("n1")
    assert n1 is not None and n1.state == NodeState.READY and not n1.executors


def test_heartbeats_keep_a_node_ready() -> None:
    b = make(node_timeout=10.0)
    clock = b.clock
    assert isinstance(clock, FakeClock)
    add_node(b, "n1")
    for _ in range(10):
        clock.advance(2.0)
        b.handle(ev.NodeHeartbeat("n1"))
        b.handle(ev.CheckLiveness())
    n1 = b.get_node("n1")
    assert n1 is not None and n1.state == NodeState.READY
    assert b.handle(ev.CheckLiveness()) == 10.0


def test_requeued_tasks_go_to_an_idle_bound_executor_on_the_next_scheduling_pass() -> None:
    b = make()
    add_node(b, "n1", cpu=2)
    b.handle(ev.CreateTasks("s", [b"1", b"2"]))
    pushed = bind(b)
    assert len(pushed) == 2
    one, two = pushed
    b.handle(ev.TaskResults("n1", (ev.TaskOutcome(two.executor_id, "s", two.task_id, 0, b"ok", attempt=1),)))
    b.drain()  # `two`'s executor is idle now
    back = ev.TaskOutcome(one.executor_id, "s", one.task_id, -1, message="released", requeue=True, attempt=1)
    b.handle(ev.ExecutorReleased("n1", one.executor_id))
    b.handle(ev.TaskResults("n1", (back,)))
    assert b.schedule_needed
    b.handle(ev.SchedulePass())
    [again] = invokes(b)
    assert (again.executor_id, again.task_id, again.attempt) == (two.executor_id, one.task_id, 2)


def test_recovery_requeues_running_tasks_naming_the_attempt_and_keeps_the_count() -> None:
    b = Core(CoreState(clock=FakeClock()))
    save = effects.SaveSession("s", SessionAttributes("echo", "s"), SessionState.OPEN, 1, None, (), 3)
    tasks = [Task("1", "s", TaskState.RUNNING, input=b"a"), Task("2", "s", TaskState.PENDING, input=b"b")]
    runs = {("s", 1): effects.TaskRun(2, "n1-x", "n1", 1, ("attempt 1: node n1 lost",))}
    b.handle(ev.Recover([], [save], tasks, {}, (), runs, {"s": {"k1": 1}}))
    out = b.drain()
    rec = b.get_session("s").tasks[1]
    assert rec.state == TaskState.PENDING and (rec.attempt, rec.retries) == (2, 1)
    assert rec.events[-1].code == REQUEUED
    assert rec.events[-1].message == "requeued after session manager restart (attempt 2)"
    [update] = [r for r in out.records if isinstance(r, effects.UpdateTask)]
    assert update.run is not None and update.run.attempt == 2
    assert b.handle(ev.CreateKeyedTasks("s", [b"again", b"new"], ["k1", "k2"])) == ["1", "3"]


def test_idempotency_keys_return_the_same_ids() -> None:
    b = make()
    first = b.handle(ev.CreateKeyedTasks("s", [b"a", b"b", b"c"], ["x", None, "y"]))
    again = b.handle(ev.CreateKeyedTasks("s", [b"a", b"b", b"c"], ["x", None, "y"]))
    assert first == ["1", "2", "3"] and again == ["1", "4", "3"]
    inserts = [r for r in b.drain().records if isinstance(r, effects.InsertTask)]
    assert [(r.task.id, r.key) for r in inserts] == [("1", "x"), ("2", None), ("3", "y"), ("4", None)]


def test_session_policy_overrides_its_application_which_overrides_the_server() -> None:
    b = make(max_retries=3)
    b.handle(ev.CreateSession(SessionAttributes(application="echo", id="t")))
    assert b.handle(ev.SetRetryPolicy("application", "echo", max_retries=0)) == RetryPolicy(0, False)
    assert b.handle(ev.SetRetryPolicy("session", "t", retry_on_error=True)) == RetryPolicy(0, True)
    records = [r for r in b.drain().records if isinstance(r, effects.SaveRetryPolicy)]
    assert records == [
        effects.SaveRetryPolicy("application", "echo", RetryPolicy(0, False)),
        effects.SaveRetryPolicy("session", "t", RetryPolicy(0, True)),
    ]
    add_node(b, "n1")
    b.handle(ev.CreateTasks("s", [b"x"]))  # session s: its application's policy, max_retries=0
    [cmd] = bind(b)
    b.handle(ev.NodeLost("n1"))
    assert task(b).state == TaskState.FAILED
    assert task(b).message == "failed after 1 attempts: attempt 1: node n1 lost (its stream ended)"


def test_set_retry_policy_checks_its_target_and_bound() -> None:
    b = make()
    with pytest.raises(NotFoundError):
        b.handle(ev.SetRetryPolicy("session", "nope", max_retries=1))
    with pytest.raises(InvalidArgumentError, match="from 0 to 100"):
        b.handle(ev.SetRetryPolicy("session", "s", max_retries=101))


def test_policies_come_back_at_recovery() -> None:
    b = Core(CoreState(clock=FakeClock()))
    save = effects.SaveSession("s", SessionAttributes("echo", "s"), SessionState.OPEN, 1, None, (), 1)
    b.handle(ev.Recover([], [save], [], {}, (), {}, {}, {("session", "s"): RetryPolicy(7, True)}))
    assert b.get_session("s").retry == RetryPolicy(7, True)
