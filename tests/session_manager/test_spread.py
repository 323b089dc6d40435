"""Pure tests of the spread placement constraint (at most one executor of a session per node) and
of spread sessions the cluster cannot place. Events in, outbox out; a fake clock."""

from __future__ import annotations

import pytest

from flamepy.errors import InvalidStateError, NotFoundError
from flamepy.types import ApplicationAttributes, ResourceRequirement, SessionAttributes, Shim, TaskState
from session_manager import effects
from session_manager import events as ev
from session_manager.clock import FakeClock
from session_manager.core import Core, CoreState
from session_manager.core.failures import UNSCHEDULABLE

GRACE = 5.0
CPU1 = ResourceRequirement(cpu=1, memory=0, gpu=0)


@pytest.fixture
def core() -> Core:
    c = Core(CoreState(clock=FakeClock(), default_delay_release=10.0, unschedulable_timeout=GRACE))
    c.handle(ev.RegisterApplication("job", ApplicationAttributes(command="python")))
    c.drain()
    return c


def node(c: Core, name: str, cpu: int = 8) -> None:
    c.handle(ev.NodeRegistered(name, ResourceRequirement(cpu, 8 << 30, 0), (Shim.HOST,)))


def spread_session(c: Core, ranks: int, spread: bool = True) -> None:
    c.handle(ev.CreateSession(SessionAttributes(application="job", id="s", resreq=CPU1, max_instances=ranks)))
    assert c.handle(ev.SetSessionPlacement("s", spread)) is spread
    c.handle(ev.CreateTasks("s", [str(i).encode() for i in range(ranks)]))


def bound_nodes(c: Core) -> list[str]:
    c.handle(ev.SchedulePass())
    return sorted(cmd.node for cmd in c.drain().commands if isinstance(cmd, effects.BindCmd))


def test_without_spread_both_ranks_share_the_roomiest_node(core: Core) -> None:
    node(core, "a")
    node(core, "b", cpu=2)
    spread_session(core, 2, spread=False)
    assert bound_nodes(core) == ["a", "a"]


def test_a_spread_session_gets_one_executor_per_node(core: Core) -> None:
    node(core, "a")
    node(core, "b", cpu=2)
    spread_session(core, 2)
    assert bound_nodes(core) == ["a", "b"]
    assert bound_nodes(core) == []  # and no second one on either later


def test_a_spread_session_waits_for_a_free_distinct_node_rather_than_doubling_up(core: Core) -> None:
    node(core, "a")
    spread_session(core, 2)
    assert bound_nodes(core) == ["a"]
    node(core, "b")
    assert bound_nodes(core) == ["b"]


def test_spread_with_more_ranks_than_nodes_fails_after_the_grace_period_naming_why(core: Core) -> None:
    node(core, "a")
    spread_session(core, 3)
    node(core, "b")
    assert core.handle(ev.CheckResources()) == pytest.approx(GRACE)
    core.clock.advance(GRACE)  # type: ignore[attr-defined]
    assert core.handle(ev.CheckResources()) is None
    ses = core.get_session("s")
    why = "needs 3 distinct nodes (spread), the cluster has 2 that can hold cpu=1,mem=0,gpu=0"
    assert [(e.code, e.message) for e in ses.events][-1] == (UNSCHEDULABLE, why)
    assert ses.failure is not None and why in ses.failure.message
    assert any(t.state == TaskState.FAILED for t in ses.tasks.values())


def test_tasks_of_a_spread_session_ask_for_a_resource_check(core: Core) -> None:
    node(core, "a")
    core.handle(ev.CreateSession(SessionAttributes(application="job", id="s", resreq=CPU1)))
    core.handle(ev.SetSessionPlacement("s", True))
    core.handle(ev.CheckResources())
    assert not core.resources_check_needed
    core.handle(ev.CreateTasks("s", [b"0", b"1"]))
    assert core.resources_check_needed
    assert core.handle(ev.CheckResources()) == pytest.approx(GRACE)


def test_a_third_node_joining_in_the_grace_period_saves_a_spread_session(core: Core) -> None:
    node(core, "a")
    node(core, "b")
    spread_session(core, 3)
    core.handle(ev.CheckResources())
    node(core, "c")
    core.clock.advance(GRACE)  # type: ignore[attr-defined]
    core.handle(ev.CheckResources())
    assert core.get_session("s").failure is None
    assert bound_nodes(core) == ["a", "b", "c"]


def test_placement_of_an_unknown_or_closed_session_is_refused(core: Core) -> None:
    with pytest.raises(NotFoundError):
        core.handle(ev.SetSessionPlacement("nope", True))
    core.handle(ev.CreateSession(SessionAttributes(application="job", id="s")))
    core.handle(ev.CloseSession("s"))
    with pytest.raises(InvalidStateError):
        core.handle(ev.SetSessionPlacement("s", True))
