"""The broker (the shell's API) without a network: memory storage, a node driven by events."""

from __future__ import annotations

import asyncio

import pytest

from flamepy.errors import NotFoundError
from flamepy.types import ApplicationAttributes, ResourceRequirement, SessionAttributes, Shim, TaskState
from session_manager import effects, events
from session_manager.broker import Broker
from session_manager.config import ServerConfig
from session_manager.links import NodeLink
from session_manager.storage.memory import MemoryStorage


async def _started() -> tuple[Broker, MemoryStorage]:
    store = MemoryStorage()
    broker = Broker(ServerConfig(storage="memory"), store)
    await broker.start()
    await broker.register_application("echo", ApplicationAttributes(command="python"))
    return broker, store


async def _bound(broker: Broker, link: NodeLink) -> str:
    """Answer the bind the scheduler sends to ``link``; the executor's id."""
    batch = await asyncio.wait_for(link.next_batch(), 5)
    assert batch is not None
    [bind] = [c for c in batch if isinstance(c, effects.BindCmd)]
    broker.node_event(events.ExecutorBound(link.name, bind.executor_id))
    return bind.executor_id


def test_run_task_goes_through_a_node_and_is_durable() -> None:
    async def scenario() -> None:
        broker, store = await _started()
        await broker.create_session(SessionAttributes(application="echo", id="s"))
        link = broker.attach_node(
            events.NodeRegistered("n1", ResourceRequirement(2, 1 << 30, 0), (Shim.HOST,))
        )
        assert [n.name for n in broker.list_nodes()] == ["n1"]
        run = asyncio.create_task(broker.run_task("s", b"hi"))
        eid = await _bound(broker, link)
        batch = await asyncio.wait_for(link.next_batch(), 5)
        assert batch is not None
        [invoke] = batch
        assert isinstance(invoke, effects.InvokeCmd) and (invoke.executor_id, invoke.input) == (eid, b"hi")
        outcome = events.TaskOutcome(eid, "s", invoke.task_id, 0, b"HI")
        broker.node_event(events.TaskResults("n1", (outcome,)))
        final = await asyncio.wait_for(run, 5)
        assert (final.state, final.output) == (TaskState.SUCCEED, b"HI")
        assert store.tasks[("s", final.id)].state == TaskState.SUCCEED  # durable before published
        assert broker.get_task("s", final.id).output == b"HI"  # read back once it left memory
        broker.detach_node(link)
        assert broker.list_executors() == []
        await broker.close()

    asyncio.run(scenario())


def test_session_watch_batches_terminal_tasks_and_ends_when_drained() -> None:
    async def scenario() -> None:
        broker, _ = await _started()
        await broker.create_session(SessionAttributes(application="echo", id="s"))
        watch = broker.watch_session("s")
        assert watch is not None
        with watch:
            await broker.create_tasks("s", [b"1", b"2", b"3"])
            await broker.close_session("s")  # nothing runs: all three are cancelled, then drained
            batches = [b async for b in watch.batches(2)]
        assert [[t.id for t in b] for b in batches] == [["1", "2"], ["3"]]
        assert all(t.state == TaskState.CANCELLED for b in batches for t in b)
        assert broker.watch_session("s") is None  # already drained
        with pytest.raises(NotFoundError):
            broker.watch_session("nope")
        await broker.close()

    asyncio.run(scenario())


async def _started_with(**config: object) -> Broker:
    broker = Broker(ServerConfig(storage="memory", **config), MemoryStorage())  # type: ignore[arg-type]
    await broker.start()
    await broker.register_application("echo", ApplicationAttributes(command="python"))
    return broker


def test_a_caller_hears_of_a_service_that_never_starts() -> None:
    async def scenario() -> None:
        broker = await _started_with(max_bind_failures=2)
        await broker.create_session(SessionAttributes(application="echo", id="s"))
        link = broker.attach_node(
            events.NodeRegistered("n1", ResourceRequirement(1, 1 << 30, 0), (Shim.HOST,))
        )
        run = asyncio.create_task(broker.run_task("s", b"hi"))
        for _ in range(2):  # the second bind comes after the backoff, from the scheduler's timer
            batch = await asyncio.wait_for(link.next_batch(), 5)
            assert batch is not None
            [bind] = [c for c in batch if isinstance(c, effects.BindCmd)]
            broker.node_event(events.BindFailed("n1", bind.executor_id, "ModuleNotFoundError: no_such"))
        final = await asyncio.wait_for(run, 5)
        assert final.state == TaskState.FAILED and final.events[-1].code == 3
        assert "application 'echo' cannot start: ModuleNotFoundError: no_such" in (
            final.events[-1].message or ""
        )
        await broker.close()

    asyncio.run(scenario())


def test_a_caller_hears_that_no_node_can_hold_its_session_once_the_grace_period_ends() -> None:
    async def scenario() -> None:
        broker = await _started_with(unschedulable_timeout=0.2)
        broker.attach_node(events.NodeRegistered("n1", ResourceRequirement(2, 1 << 30, 0), (Shim.HOST,)))
        gpu = ResourceRequirement(1, 0, 1)
        await broker.create_session(SessionAttributes(application="echo", id="s", resreq=gpu))
        final = await asyncio.wait_for(broker.run_task("s", b"hi"), 5)  # the timer decides
        assert final.state == TaskState.FAILED
        assert "no node can hold gpu=1 (largest: n1 cpu=2 mem=1g gpu=0)" in (final.events[-1].message or "")
        [event] = broker.get_session("s").status.events
        assert event.code == 1002
        await broker.close()

    asyncio.run(scenario())


def test_a_session_created_before_any_node_runs_once_one_joins() -> None:
    async def scenario() -> None:
        broker = await _started_with(unschedulable_timeout=0.5)
        await broker.create_session(SessionAttributes(application="echo", id="s"))
        run = asyncio.create_task(broker.run_task("s", b"hi"))
        link = broker.attach_node(
            events.NodeRegistered("n1", ResourceRequirement(2, 1 << 30, 0), (Shim.HOST,))
        )
        eid = await _bound(broker, link)
        batch = await asyncio.wait_for(link.next_batch(), 5)
        assert batch is not None
        [invoke] = batch
        assert isinstance(invoke, effects.InvokeCmd)
        broker.node_event(events.TaskResults("n1", (events.TaskOutcome(eid, "s", invoke.task_id, 0, b"HI"),)))
        final = await asyncio.wait_for(run, 5)
        assert final.state == TaskState.SUCCEED and not broker.get_session("s").status.events
        await broker.close()

    asyncio.run(scenario())
