"""Pure tests of sessions that can never run: the bind-failure limit and impossible resources.

Events in, outbox out; no network, no threads, a fake clock.
"""

from __future__ import annotations

import pytest

from flamepy.types import (
    ApplicationAttributes,
    EventCode,
    ResourceRequirement,
    SessionAttributes,
    Shim,
    TaskState,
)
from session_manager import effects, states
from session_manager import events as ev
from session_manager.clock import FakeClock
from session_manager.core import Core, CoreState
from session_manager.core.failures import UNSCHEDULABLE
from session_manager.model import SessionRecord, TaskRecord

GRACE = 10.0
ERROR = "OnSessionEnter failed: RuntimeError: cannot load the model"


@pytest.fixture
def core() -> Core:
    c = Core(
        CoreState(
            clock=FakeClock(), default_delay_release=10.0, max_bind_failures=3, unschedulable_timeout=GRACE
        )
    )
    c.handle(ev.RegisterApplication("echo", ApplicationAttributes(command="python")))
    c.drain()
    return c


def clock(c: Core) -> FakeClock:
    assert isinstance(c.clock, FakeClock)
    return c.clock


def node(c: Core, name: str = "n1", cpu: int = 2, gpu: int = 0) -> None:
    c.handle(ev.NodeRegistered(name, ResourceRequirement(cpu, 8 << 30, gpu), (Shim.HOST,)))


def session(c: Core, sid: str = "s", resreq: ResourceRequirement | None = None) -> SessionRecord:
    return c.handle(ev.CreateSession(SessionAttributes(application="echo", id=sid, resreq=resreq)))


def binds(c: Core) -> list[effects.BindCmd]:
    """Run a scheduling pass once the bind backoff is over; the binds it sends."""
    ses_wait = max((s.bind_retry_at for s in c.sessions()), default=0.0) - c.clock.mono()
    if ses_wait > 0:
        clock(c).advance(ses_wait + 0.01)
    c.handle(ev.SchedulePass())
    return [cmd for cmd in c.drain().commands if isinstance(cmd, effects.BindCmd)]


def fail_binds(c: Core, times: int, message: str = ERROR) -> None:
    for _ in range(times):
        [bind] = binds(c)
        c.handle(ev.BindFailed(bind.node, bind.executor_id, message))


def failed_with(rec: TaskRecord) -> str:
    assert rec.state == TaskState.FAILED, rec
    last = rec.events[-1]
    assert last.code == EventCode.FAILED
    return last.message or ""


# -- the state table -----------------------------------------------------------------------------


def test_a_pending_task_may_fail() -> None:
    states.check("task", "t", TaskState.PENDING, TaskState.FAILED, "Test-1")
    assert TaskState.FAILED in states.TASK_TRANSITIONS[TaskState.PENDING]


# -- bind failures -------------------------------------------------------------------------------


def test_the_default_limit_is_five_bind_failures() -> None:
    assert Core().state.max_bind_failures == 5


def test_bind_failures_past_the_limit_fail_pending_tasks_naming_the_application(core: Core) -> None:
    node(core, cpu=1)
    ses = session(core)
    t1, t2 = core.handle(ev.CreateTasks("s", [b"1", b"2"]))
    fail_binds(core, 2)
    assert (t1.state, t2.state) == (TaskState.PENDING, TaskState.PENDING)
    fail_binds(core, 1, "service process exited with code 2: No such file or directory")
    for rec in (t1, t2):
        text = failed_with(rec)
        assert text.startswith("application 'echo' cannot start: service process exited with code 2")
        assert "3 bind failures in a row" in text and "open a new session" in text
    out = core.drain()
    assert {t.id: t.state for t in out.tasks_changed} == {"1": TaskState.FAILED, "2": TaskState.FAILED}
    assert [r.task.state for r in out.records if isinstance(r, effects.UpdateTask)] == [TaskState.FAILED] * 2
    assert [e.code for e in ses.events] == [1001] * 4
    assert "failed to bind session s" in (ses.events[0].message or "")
    assert ses.events[-1].message == t1.events[-1].message
    assert (ses.status().pending, ses.status().failed) == (0, 2)


def test_a_session_that_gave_up_binds_no_more_and_fails_later_tasks_at_once(core: Core) -> None:
    node(core)
    session(core)
    core.handle(ev.CreateTasks("s", [b"1"]))
    fail_binds(core, 3)
    clock(core).advance(3600)
    assert binds(core) == []
    [later] = core.handle(ev.CreateTasks("s", [b"2"]))
    assert "cannot start" in failed_with(later) and ERROR in failed_with(later)
    assert binds(core) == []
    out = core.drain()
    assert not out.commands


def test_a_bind_failure_reported_after_giving_up_adds_nothing(core: Core) -> None:
    node(core, cpu=4)
    ses = session(core)
    core.handle(ev.CreateTasks("s", [b"1", b"2"]))
    for bind in binds(core):  # two executors for two tasks
        core.handle(ev.BindFailed("n1", bind.executor_id, ERROR))
    assert ses.bind_failures == 2 and ses.failure is None
    first, second = binds(core)
    core.handle(ev.BindFailed("n1", first.executor_id, ERROR))
    assert ses.failure is not None
    events_then = list(ses.events)
    core.handle(ev.BindFailed("n1", second.executor_id, "late"))
    assert ses.events == events_then and not core.executors()


def test_a_successful_bind_resets_the_count(core: Core) -> None:
    node(core)
    ses = session(core)
    [task] = core.handle(ev.CreateTasks("s", [b"1"]))
    fail_binds(core, 2)
    [bind] = binds(core)
    core.handle(ev.ExecutorBound("n1", bind.executor_id))
    assert ses.bind_failures == 0 and task.state == TaskState.RUNNING
    core.handle(ev.ExecutorReleased("n1", bind.executor_id, "service process crashed"))
    assert task.state == TaskState.PENDING
    fail_binds(core, 2)
    assert task.state == TaskState.PENDING and ses.failure is None


def test_a_running_task_given_back_after_giving_up_fails(core: Core) -> None:
    node(core, cpu=4)
    session(core)
    [t1] = core.handle(ev.CreateTasks("s", [b"1"]))
    [bind] = binds(core)
    core.handle(ev.ExecutorBound("n1", bind.executor_id))
    [t2] = core.handle(ev.CreateTasks("s", [b"2"]))  # a second executor is wanted: it never starts
    fail_binds(core, 3)
    assert t1.state == TaskState.RUNNING and "cannot start" in failed_with(t2)
    core.handle(ev.ExecutorReleased("n1", bind.executor_id, "service process crashed"))
    assert "cannot start" in failed_with(t1)


def test_updating_the_application_lets_its_sessions_bind_again(core: Core) -> None:
    node(core)
    ses = session(core)
    [old] = core.handle(ev.CreateTasks("s", [b"1"]))
    fail_binds(core, 3)
    core.handle(ev.UpdateApplication("echo", ApplicationAttributes(command="python3")))
    assert ses.failure is None and ses.bind_failures == 0
    [new] = core.handle(ev.CreateTasks("s", [b"2"]))
    assert new.state == TaskState.PENDING and old.state == TaskState.FAILED
    [bind] = binds(core)
    assert bind.app.attributes.command == "python3"
    core.handle(ev.ExecutorBound("n1", bind.executor_id))
    assert new.state == TaskState.RUNNING


def test_a_new_session_of_a_failing_application_starts_afresh(core: Core) -> None:
    node(core)
    session(core, "a")
    core.handle(ev.CreateTasks("a", [b"1"]))
    fail_binds(core, 3)
    b = session(core, "b")
    [task] = core.handle(ev.CreateTasks("b", [b"1"]))
    assert task.state == TaskState.PENDING and b.bind_failures == 0 and b.failure is None
    assert len(binds(core)) == 1


# -- impossible resources ------------------------------------------------------------------------

GPU1 = ResourceRequirement(cpu=1, memory=0, gpu=1)


def test_what_asks_for_a_resource_check(core: Core) -> None:
    node(core)
    assert core.resources_check_needed
    assert core.handle(ev.CheckResources()) is None and not core.resources_check_needed
    session(core)
    assert core.resources_check_needed
    core.handle(ev.CheckResources())
    core.handle(ev.CreateTasks("s", [b"1"]))
    [bind] = binds(core)
    core.handle(ev.ExecutorBound("n1", bind.executor_id))
    core.handle(ev.TaskResults("n1", (ev.TaskOutcome(bind.executor_id, "s", "1", 0, b"1"),)))
    assert not core.resources_check_needed  # never per task
    core.handle(ev.NodeLost("n1"))
    assert core.resources_check_needed


def test_a_gpu_session_on_a_cluster_without_gpus_fails_after_the_grace_period(core: Core) -> None:
    node(core, "node-a", cpu=2)
    ses = session(core, resreq=GPU1)
    [task] = core.handle(ev.CreateTasks("s", [b"1"]))
    assert core.handle(ev.CheckResources()) == pytest.approx(GRACE)
    clock(core).advance(GRACE - 1)
    assert core.handle(ev.CheckResources()) == pytest.approx(1)
    assert task.state == TaskState.PENDING and not ses.events
    clock(core).advance(1)
    assert core.handle(ev.CheckResources()) is None
    why = "no node can hold gpu=1 (largest: node-a cpu=2 mem=8g gpu=0)"
    assert [(e.code, e.message) for e in ses.events] == [(UNSCHEDULABLE, why)]
    text = failed_with(task)
    assert text.startswith(f"application 'echo' cannot start: {why}") and "cpu=1,mem=0,gpu=1" in text
    [later] = core.handle(ev.CreateTasks("s", [b"2"]))
    assert failed_with(later) == text
    assert binds(core) == []
    core.handle(ev.CheckResources())
    assert len(ses.events) == 1  # decided once


def test_a_node_that_fits_joining_in_the_grace_period_saves_the_session(core: Core) -> None:
    node(core, "node-a")
    ses = session(core, resreq=GPU1)
    [task] = core.handle(ev.CreateTasks("s", [b"1"]))
    core.handle(ev.CheckResources())
    clock(core).advance(GRACE / 2)
    node(core, "gpu-box", cpu=8, gpu=1)
    assert core.handle(ev.CheckResources()) is None
    clock(core).advance(GRACE)
    core.handle(ev.CheckResources())
    assert task.state == TaskState.PENDING and not ses.events
    [bind] = binds(core)
    assert bind.node == "gpu-box"


def test_total_capacity_counts_not_free_capacity(core: Core) -> None:
    node(core, cpu=1)
    session(core, "busy")
    core.handle(ev.CreateTasks("busy", [b"1"]))
    [bind] = binds(core)
    core.handle(ev.ExecutorBound("n1", bind.executor_id))
    session(core, "waits")
    [task] = core.handle(ev.CreateTasks("waits", [b"1"]))
    assert core.handle(ev.CheckResources()) is None
    clock(core).advance(GRACE * 3)
    core.handle(ev.CheckResources())
    assert task.state == TaskState.PENDING


def test_no_executor_manager_at_all(core: Core) -> None:
    ses = session(core)
    [task] = core.handle(ev.CreateTasks("s", [b"1"]))
    core.handle(ev.CheckResources())
    clock(core).advance(GRACE)
    core.handle(ev.CheckResources())
    assert ses.events[-1].message == "no executor manager is connected"
    assert "cannot start: no executor manager is connected" in failed_with(task)


def test_the_largest_node_and_what_is_missing_are_named(core: Core) -> None:
    node(core, "small", cpu=2)
    node(core, "big", cpu=64)
    node(core, "gpu-box", cpu=4, gpu=1)
    ses = session(core, resreq=ResourceRequirement(cpu=10000, memory=0, gpu=1))
    core.handle(ev.CheckResources())
    clock(core).advance(GRACE)
    core.handle(ev.CheckResources())
    assert ses.events[-1].message == "no node can hold cpu=10000 (largest: gpu-box cpu=4 mem=8g gpu=1)"


def test_a_node_that_fits_joining_later_lets_new_tasks_run(core: Core) -> None:
    node(core)
    ses = session(core, resreq=GPU1)
    [old] = core.handle(ev.CreateTasks("s", [b"1"]))
    core.handle(ev.CheckResources())
    clock(core).advance(GRACE)
    core.handle(ev.CheckResources())
    assert old.state == TaskState.FAILED
    node(core, "gpu-box", cpu=2, gpu=1)
    core.handle(ev.CheckResources())
    assert ses.failure is None
    [new] = core.handle(ev.CreateTasks("s", [b"2"]))
    assert new.state == TaskState.PENDING
    assert [b.node for b in binds(core)] == ["gpu-box"]


def test_a_session_no_node_can_hold_does_not_starve_the_others(core: Core) -> None:
    node(core)
    session(core, "a")
    core.handle(ev.CreateTasks("a", [b"1"]))
    [bind] = binds(core)
    core.handle(ev.ExecutorBound("n1", bind.executor_id))
    core.handle(ev.TaskResults("n1", (ev.TaskOutcome(bind.executor_id, "a", "1", 0, b"1"),)))
    session(core, "gpu", resreq=GPU1)
    core.handle(ev.CreateTasks("gpu", [b"1"]))
    core.handle(ev.SchedulePass())
    assert not [c for c in core.drain().commands if isinstance(c, effects.ReleaseCmd)]
