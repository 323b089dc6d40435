"""Pure tests of the broker core and scheduler: events in, outbox out; no network, no threads, a fake clock."""

from __future__ import annotations

import pytest

from flamepy.errors import (
    AlreadyExistsError,
    InternalError,
    InvalidArgumentError,
    InvalidStateError,
    NotFoundError,
)
from flamepy.types import (
    ApplicationAttributes,
    EventCode,
    ExecutorState,
    ResourceRequirement,
    SessionAttributes,
    SessionState,
    Shim,
    TaskState,
)
from session_manager import effects, states
from session_manager import events as ev
from session_manager.clock import FakeClock
from session_manager.core import Core, CoreState


@pytest.fixture
def broker() -> Core:
    b = Core(CoreState(clock=FakeClock(), default_delay_release=10.0))
    b.handle(ev.RegisterApplication("echo", ApplicationAttributes(command="python")))
    b.drain()
    return b


def node(b: Core, name: str = "n1", cpu: int = 2, gpu: int = 0) -> None:
    b.handle(ev.NodeRegistered(name, ResourceRequirement(cpu, 8 << 30, gpu), (Shim.HOST,)))


def cmds(b: Core, kind: type) -> list:
    return [c for c in b.state.out.commands if isinstance(c, kind)]


def bind_all(b: Core) -> list[str]:
    b.handle(ev.SchedulePass())
    out = b.drain()
    ids = [c.executor_id for c in out.commands if isinstance(c, effects.BindCmd)]
    for eid in ids:
        b.handle(ev.ExecutorBound("n1", eid))
    return ids


def result(b: Core, eid: str, sid: str, tid: str, rc: int, out: bytes | None, msg: str | None) -> None:
    b.handle(ev.TaskResults("n1", (ev.TaskOutcome(eid, sid, tid, rc, out, msg),)))


def test_transition_table_rejects_illegal_moves() -> None:
    states.check("task", "t", TaskState.PENDING, TaskState.RUNNING, "Test-1")
    with pytest.raises(InternalError, match=r"SUCCEED -> RUNNING .*nothing \(terminal\)\), caused by Test-2"):
        states.check("task", "task 1", TaskState.SUCCEED, TaskState.RUNNING, "Test-2")
    with pytest.raises(InternalError, match="CLOSED -> OPEN"):
        states.check("session", "s", SessionState.CLOSED, SessionState.OPEN, "Test-3")
    with pytest.raises(InternalError):
        states.check("executor", "e", ExecutorState.RELEASED, ExecutorState.BOUND, "Test-4")


def test_each_event_gets_its_own_stimulus_id(broker: Core) -> None:
    broker.handle(ev.SchedulePass())
    first = broker.stimulus_id
    broker.handle(ev.NodeHeartbeat("n1"))
    second = broker.stimulus_id
    assert first.startswith("SchedulePass-") and second.startswith("NodeHeartbeat-")
    assert int(second.rsplit("-", 1)[1]) == int(first.rsplit("-", 1)[1]) + 1
    with pytest.raises(TypeError, match="no handler for TaskOutcome"):
        broker.handle(ev.TaskOutcome("e", "s", "1", 0))  # type: ignore[arg-type]


def test_illegal_executor_transition_names_the_event_that_caused_it(broker: Core) -> None:
    node(broker)
    broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="s")))
    broker.handle(ev.CreateTasks("s", [b"1"]))
    [eid] = bind_all(broker)
    with pytest.raises(states.IllegalTransition) as caught:
        broker.handle(ev.ExecutorBound("n1", eid))  # a second report: BOUND -> BOUND is a bug
    err = caught.value
    assert err.stimulus_id == broker.stimulus_id and err.stimulus_id.startswith("ExecutorBound-")
    assert (err.kind, err.current, err.new) == ("executor", ExecutorState.BOUND, ExecutorState.BOUND)
    assert f"illegal executor transition for executor {eid}: BOUND -> BOUND" in err.message
    assert err.message.endswith(f"caused by {err.stimulus_id}")


def test_illegal_task_transition_names_the_task_and_the_event(broker: Core) -> None:
    node(broker, cpu=1)
    broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="s")))
    broker.handle(ev.CreateTasks("s", [b"1"]))
    broker.handle(ev.SchedulePass())
    [bind] = cmds(broker, effects.BindCmd)
    broker.get_session("s").tasks[1].state = TaskState.SUCCEED  # corrupt: a finished task still queued
    with pytest.raises(states.IllegalTransition, match=r"task 1 of session s: SUCCEED -> RUNNING") as caught:
        broker.handle(ev.ExecutorBound("n1", bind.executor_id))  # dealing it is what trips
    assert caught.value.stimulus_id == broker.stimulus_id
    assert caught.value.stimulus_id.startswith("ExecutorBound-")


def test_session_validation(broker: Core) -> None:
    with pytest.raises(NotFoundError, match="application 'nope' not found"):
        broker.handle(ev.CreateSession(SessionAttributes(application="nope", id="s")))
    with pytest.raises(InvalidArgumentError, match="must not be empty"):
        broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="")))
    with pytest.raises(InvalidArgumentError, match="min_instances"):
        broker.handle(
            ev.CreateSession(SessionAttributes(application="echo", id="s", min_instances=3, max_instances=2))
        )
    broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="s")))
    with pytest.raises(AlreadyExistsError):
        broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="s")))
    with pytest.raises(AlreadyExistsError):
        broker.handle(ev.RegisterApplication("echo", ApplicationAttributes()))
    with pytest.raises(InvalidArgumentError, match="working_directory must be absolute"):
        broker.handle(ev.RegisterApplication("x", ApplicationAttributes(working_directory="rel")))


def test_open_session_matches_spec(broker: Core) -> None:
    spec = SessionAttributes(application="echo", id="s", min_instances=1)
    broker.handle(ev.OpenSession("s", spec))  # creates
    assert broker.handle(ev.OpenSession("s", spec)).id == "s"
    assert broker.handle(ev.OpenSession("s", None)).id == "s"
    with pytest.raises(InvalidArgumentError, match="spec mismatch.*min_instances"):
        broker.handle(ev.OpenSession("s", SessionAttributes(application="echo", id="s", min_instances=2)))
    with pytest.raises(NotFoundError, match="not found"):
        broker.handle(ev.OpenSession("other", None))
    broker.handle(ev.CloseSession("s"))
    with pytest.raises(InvalidStateError, match="is not open"):
        broker.handle(ev.OpenSession("s", None))


def test_task_life_and_events(broker: Core) -> None:
    node(broker)
    broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="s")))
    t1, t2 = broker.handle(ev.CreateTasks("s", [b"a", b"fail"]))
    assert (t1.task_id, t2.task_id) == ("1", "2")
    eid = bind_all(broker)[0]
    invokes = cmds(broker, effects.InvokeCmd)
    assert [c.task_id for c in invokes] == ["1", "2"]
    result(broker, invokes[0].executor_id, "s", "1", 0, b"A", None)
    result(broker, invokes[1].executor_id, "s", "2", 1, None, "ValueError: bad")
    assert t1.state == TaskState.SUCCEED and t1.output == b"A"
    assert [e.code for e in t1.events] == [0, 1, 2]
    assert t2.state == TaskState.FAILED
    assert t2.events[-1].code == EventCode.FAILED and t2.events[-1].message == "ValueError: bad"
    st = broker.get_session("s").status()
    assert (st.pending, st.running, st.succeed, st.failed) == (0, 0, 1, 1)
    assert eid is not None


def test_bound_executor_is_reused_for_next_task(broker: Core) -> None:
    node(broker, cpu=1)
    broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="s")))
    broker.handle(ev.CreateTasks("s", [b"1", b"2"]))
    [eid] = bind_all(broker)
    inv = cmds(broker, effects.InvokeCmd)
    assert [c.task_id for c in inv] == ["1"]
    broker.drain()
    result(broker, eid, "s", "1", 0, b"1", None)
    assert [c.task_id for c in cmds(broker, effects.InvokeCmd)] == ["2"]
    assert [c.executor_id for c in cmds(broker, effects.InvokeCmd)] == [eid]


def test_close_cancels_pending_and_lets_running_finish(broker: Core) -> None:
    node(broker, cpu=1)
    broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="s")))
    broker.handle(ev.CreateTasks("s", [b"1", b"2", b"3"]))
    [eid] = bind_all(broker)
    broker.drain()
    broker.handle(ev.CloseSession("s"))
    ses = broker.get_session("s")
    assert [ses.tasks[i].state for i in (1, 2, 3)] == [
        TaskState.RUNNING,
        TaskState.CANCELLED,
        TaskState.CANCELLED,
    ]
    assert ses.status().cancelled == 2
    assert broker.drain().sessions_drained == []
    result(broker, eid, "s", "1", 0, b"1", None)
    out = broker.drain()
    assert ses.tasks[1].state == TaskState.SUCCEED
    assert out.sessions_drained == ["s"]
    assert any(isinstance(c, effects.ReleaseCmd) for c in out.commands)
    broker.handle(ev.CloseSession("s"))  # idempotent
    with pytest.raises(InvalidStateError, match="is not open"):
        broker.handle(ev.CreateTasks("s", [b"x"]))


def test_bind_failure_records_event_1001_and_backs_off(broker: Core) -> None:
    node(broker)
    broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="s")))
    broker.handle(ev.CreateTasks("s", [b"1"]))
    broker.handle(ev.SchedulePass())
    [bind] = [c for c in broker.drain().commands if isinstance(c, effects.BindCmd)]
    broker.handle(ev.BindFailed("n1", bind.executor_id, "exit code 1: ImportError"))
    ses = broker.get_session("s")
    [event] = ses.events
    text = event.message or ""
    assert event.code == 1001 and "failed to bind session" in text and "ImportError" in text
    assert ses.state == SessionState.OPEN and ses.tasks[1].state == TaskState.PENDING
    wake = broker.handle(ev.SchedulePass())
    assert not cmds(broker, effects.BindCmd) and wake is not None and wake > 0
    broker.clock.advance(wake + 0.1)  # type: ignore[attr-defined]
    broker.handle(ev.SchedulePass())
    assert len(cmds(broker, effects.BindCmd)) == 1


def test_min_and_max_instances(broker: Core) -> None:
    node(broker, cpu=8)
    broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="warm", min_instances=2)))
    broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="capped", max_instances=1)))
    broker.handle(ev.CreateTasks("capped", [b"x"] * 5))
    broker.handle(ev.SchedulePass())
    binds = cmds(broker, effects.BindCmd)
    assert sorted(c.session_id for c in binds) == ["capped", "warm", "warm"]


def test_fair_share_between_sessions(broker: Core) -> None:
    node(broker, cpu=4)
    for sid in ("a", "b"):
        broker.handle(ev.CreateSession(SessionAttributes(application="echo", id=sid)))
        broker.handle(ev.CreateTasks(sid, [b"x"] * 10))
    broker.handle(ev.SchedulePass())
    binds = cmds(broker, effects.BindCmd)
    assert sorted(c.session_id for c in binds) == ["a", "a", "b", "b"]


def test_priority_wins_capacity(broker: Core) -> None:
    node(broker, cpu=2)
    broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="low")))
    broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="high", priority=5)))
    broker.handle(ev.CreateTasks("low", [b"x"] * 4))
    broker.handle(ev.CreateTasks("high", [b"x"] * 4))
    broker.handle(ev.SchedulePass())
    assert [c.session_id for c in cmds(broker, effects.BindCmd)] == ["high", "high"]


def test_idle_executor_released_after_delay(broker: Core) -> None:
    node(broker)
    broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="s")))
    broker.handle(ev.CreateTasks("s", [b"1"]))
    [eid] = bind_all(broker)
    result(broker, eid, "s", "1", 0, b"1", None)
    broker.drain()
    wake = broker.handle(ev.SchedulePass())
    assert not cmds(broker, effects.ReleaseCmd) and wake == pytest.approx(10.0)
    broker.clock.advance(10.0)  # type: ignore[attr-defined]
    broker.handle(ev.SchedulePass())
    assert [c.executor_id for c in cmds(broker, effects.ReleaseCmd)] == [eid]
    broker.handle(ev.ExecutorReleased("n1", eid))
    node1 = broker.get_node("n1")
    assert node1 is not None and node1.allocatable.cpu == 2 and not broker.executors()


def test_gpu_requirements_place_on_gpu_nodes(broker: Core) -> None:
    node(broker, "cpu-only", cpu=8)
    node(broker, "gpu-box", cpu=8, gpu=2)
    broker.handle(
        ev.CreateSession(
            SessionAttributes(application="echo", id="s", resreq=ResourceRequirement(cpu=1, gpu=1))
        )
    )
    broker.handle(ev.CreateTasks("s", [b"x"] * 3))
    broker.handle(ev.SchedulePass())
    binds = cmds(broker, effects.BindCmd)
    assert [(c.node, c.gpu_ids) for c in binds] == [("gpu-box", (0,)), ("gpu-box", (1,))]


def test_wasm_application_stays_pending_on_host_cluster(broker: Core) -> None:
    node(broker)
    broker.handle(ev.RegisterApplication("wasm", ApplicationAttributes(shim=Shim.WASM)))
    broker.handle(ev.CreateSession(SessionAttributes(application="wasm", id="w")))
    broker.handle(ev.CreateTasks("w", [b"x"]))
    broker.handle(ev.SchedulePass())
    assert not cmds(broker, effects.BindCmd)
    assert broker.get_session("w").tasks[1].state == TaskState.PENDING


def test_node_loss_and_crash_requeue_running_tasks(broker: Core) -> None:
    node(broker, cpu=1)
    broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="s")))
    broker.handle(ev.CreateTasks("s", [b"1"]))
    [eid] = bind_all(broker)
    broker.handle(ev.NodeLost("n1"))
    task = broker.get_session("s").tasks[1]
    assert task.state == TaskState.PENDING and "node n1 lost" in (task.events[-1].message or "")
    assert not broker.executors()


def test_restore_requeues_running_tasks() -> None:
    from flamepy.types import Task

    b = Core(CoreState(clock=FakeClock()))
    save = effects.SaveSession("s", SessionAttributes("echo", "s"), SessionState.OPEN, 1, None, (), 3)
    tasks = [
        Task("1", "s", TaskState.SUCCEED, b"a", b"a"),
        Task("2", "s", TaskState.RUNNING, b"b"),
    ]
    b.handle(ev.Recover([], [save], tasks, {}))
    ses = b.get_session("s")
    assert list(ses.pending) == [2] and ses.status().pending == 1 and ses.status().succeed == 1
    assert b.handle(ev.CreateTasks("s", [b"c"]))[0].task_id == "3"


def test_delete_cancels_running_tasks_and_forgets_the_session(broker: Core) -> None:
    node(broker, cpu=1)
    broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="s")))
    broker.handle(ev.CreateTasks("s", [b"1", b"2"]))
    [eid] = bind_all(broker)
    broker.drain()
    broker.handle(ev.DeleteSession("s"))
    out = broker.drain()
    assert {(t.id, t.state) for t in out.tasks_changed} == {
        ("1", TaskState.CANCELLED),
        ("2", TaskState.CANCELLED),
    }
    assert [c.executor_id for c in out.commands if isinstance(c, effects.ReleaseCmd)] == [eid]
    assert any(isinstance(r, effects.DeleteSession) for r in out.records)
    with pytest.raises(NotFoundError):
        broker.get_session("s")
    result(broker, eid, "s", "1", 0, b"late", None)  # a late result is ignored


def _pushed(b: Core) -> list[tuple[str, str]]:
    return [(c.executor_id, c.task_id) for c in b.drain().commands if isinstance(c, effects.InvokeCmd)]


def test_short_tasks_are_pushed_ahead_round_robin(broker: Core) -> None:
    clock = broker.clock
    assert isinstance(clock, FakeClock) and broker.state.prefetch == 16
    node(broker, cpu=2)
    broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="s", min_instances=2)))
    broker.handle(ev.CreateTasks("s", [b"x"] * 20))
    e1, e2 = bind_all(broker)
    ses = broker.get_session("s")
    # nothing seen yet: one task per executor
    assert sorted(t for _, t in _pushed(broker)) == ["1", "2"]
    clock.advance(0.001)
    result(broker, e1, "s", "1", 0, b"", None)  # 1 ms: short; 2 ms of work ahead is 2 tasks
    assert ses.task_time == pytest.approx(0.001) and broker.window(ses) == 3
    assert _pushed(broker) == [(e1, "3"), (e1, "4"), (e1, "5")]  # e1 filled to 3
    result(broker, e2, "s", "2", 0, b"", None)
    assert _pushed(broker) == [(e2, "6"), (e2, "7"), (e2, "8")]


@pytest.mark.parametrize(
    ("task_time", "window"),
    [
        (None, 1),
        (0.5, 1),
        (0.011, 1),
        (0.010, 2),
        (0.002, 2),
        (0.001, 3),
        (0.0004, 6),
        (0.00005, 16),
        (0.0, 16),
    ],
)
def test_window_covers_about_2ms_of_short_tasks(broker: Core, task_time, window) -> None:
    broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="s")))
    ses = broker.get_session("s")
    ses.task_time = task_time
    assert broker.window(ses) == window
    one = Core(
        CoreState(clock=FakeClock(), prefetch=1)
    )  # --prefetch 1: never more than one task per executor
    assert one.window(ses) == 1


def test_long_tasks_go_one_at_a_time(broker: Core) -> None:
    clock = broker.clock
    assert isinstance(clock, FakeClock)
    node(broker, cpu=2)
    broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="s", min_instances=2)))
    broker.handle(ev.CreateTasks("s", [b"x"] * 6))
    e1, _e2 = bind_all(broker)
    running = dict(_pushed(broker))
    assert len(running) == 2
    for _ in range(3):
        clock.advance(0.5)  # 500 ms tasks: never more than one on an executor
        result(broker, e1, "s", running[e1], 0, b"", None)
        pushed = _pushed(broker)
        assert [e for e, _ in pushed] == [e1]
        running.update(pushed)
    ses = broker.get_session("s")
    assert broker.window(ses) == 1 and ses.task_time == pytest.approx(0.5)
    assert list(ses.pending) == [6]  # still waiting for a free executor, not queued behind one


def test_deal_is_round_robin_once_tasks_are_short(broker: Core) -> None:
    clock = broker.clock
    assert isinstance(clock, FakeClock)
    node(broker, cpu=2)
    broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="s", min_instances=2)))
    e1, e2 = bind_all(broker)
    broker.handle(ev.CreateTasks("s", [b"x", b"y"]))
    first = _pushed(broker)
    assert sorted(e for e, _ in first) == sorted([e1, e2])
    clock.advance(0.001)
    for eid, tid in first:
        result(broker, eid, "s", tid, 0, b"", None)
    broker.drain()
    broker.handle(ev.CreateTasks("s", [b"z"] * 5))  # window is 3 now: 3 + 2, not all on one
    counts = {e1: 0, e2: 0}
    for eid, _ in _pushed(broker):
        counts[eid] += 1
    assert sorted(counts.values()) == [2, 3]


def test_commands_batch_consecutive_pushes_in_order() -> None:
    from session_manager.backend_convert import commands_pb

    inv = [effects.InvokeCmd("n", "e1", "s", str(i), None if i == 2 else b"x") for i in range(4)]
    rel = effects.ReleaseCmd("n", "e0")
    msgs = commands_pb([inv[0], inv[1], rel, inv[2], inv[3]])
    assert [m.WhichOneof("msg") for m in msgs] == ["invoke_tasks", "release_executor", "invoke_tasks"]
    assert [t.task.task_id for t in msgs[0].invoke_tasks.tasks] == ["0", "1"]
    assert not msgs[2].invoke_tasks.tasks[0].task.HasField("input")  # None stays None
    assert [m.WhichOneof("msg") for m in commands_pb([inv[0]])] == ["invoke_task"]  # one: no batch


def test_finished_tasks_are_forgotten_once_durable_and_unknown_ids_stay_not_found(broker: Core) -> None:
    node(broker, cpu=1)
    broker.handle(ev.CreateSession(SessionAttributes(application="echo", id="s")))
    broker.handle(ev.CreateTasks("s", [b"1", b"2"]))
    [eid] = bind_all(broker)
    result(broker, eid, "s", "1", 0, b"one", None)
    changed = broker.drain().tasks_changed
    broker.handle(ev.TasksDurable(changed))  # what the shell does once these are committed
    ses = broker.get_session("s")
    assert sorted(ses.tasks) == [2]  # task 2 is running: it stays
    assert broker.find_task("s", "1") is None  # finished: read it from storage
    assert broker.find_task("s", "2") is ses.tasks[2]
    with pytest.raises(NotFoundError):
        broker.find_task("s", "3")  # never created
    assert ses.status().succeed == 1 and ses.status().running == 1
