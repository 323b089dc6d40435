"""RunTask with an idempotency key (the broker, without a network): a repeated RunTask with a key
the session has seen creates no task; it follows the one made with the key (also one made by
CreateTasks with that key) and answers its outcome, even once it has finished."""

from __future__ import annotations

import asyncio

from flamepy.types import ApplicationAttributes, ResourceRequirement, SessionAttributes, Shim, TaskState
from session_manager import effects, events
from session_manager.broker import Broker
from session_manager.config import ServerConfig
from session_manager.links import NodeLink
from session_manager.storage.memory import MemoryStorage


async def _started() -> tuple[Broker, NodeLink]:
    broker = Broker(ServerConfig(storage="memory"), MemoryStorage())
    await broker.start()
    await broker.register_application("echo", ApplicationAttributes(command="python"))
    await broker.create_session(SessionAttributes(application="echo", id="s"))
    link = broker.attach_node(events.NodeRegistered("n1", ResourceRequirement(2, 1 << 30, 0), (Shim.HOST,)))
    return broker, link


async def _answer_one(broker: Broker, link: NodeLink, output: bytes) -> str:
    """Bind the executor and answer the one task the node is handed; that task's id."""
    invoke = None
    while invoke is None:
        batch = await asyncio.wait_for(link.next_batch(), 5)
        assert batch is not None
        for cmd in batch:
            if isinstance(cmd, effects.BindCmd):
                broker.node_event(events.ExecutorBound(link.name, cmd.executor_id))
            elif isinstance(cmd, effects.InvokeCmd):
                invoke = cmd
    broker.node_event(
        events.TaskResults("n1", (events.TaskOutcome(invoke.executor_id, "s", invoke.task_id, 0, output),))
    )
    return invoke.task_id


def test_a_repeated_keyed_run_task_follows_the_first_task() -> None:
    async def scenario() -> None:
        broker, link = await _started()
        first = asyncio.create_task(broker.run_task("s", b"hi", "k1"))
        again = asyncio.create_task(broker.run_task("s", b"hi", "k1"))  # the retry, while it runs
        tid = await _answer_one(broker, link, b"HI")
        done = await asyncio.wait_for(asyncio.gather(first, again), 5)
        assert [(t.id, t.state, t.output) for t in done] == [(tid, TaskState.SUCCEED, b"HI")] * 2
        late = await asyncio.wait_for(broker.run_task("s", b"hi", "k1"), 5)  # after it finished
        assert (late.id, late.output) == (tid, b"HI")
        assert [t.id for t in broker.list_tasks("s")] == [tid]  # one task, never two
        await broker.close()

    asyncio.run(scenario())


def test_run_task_shares_the_key_store_of_create_tasks() -> None:
    async def scenario() -> None:
        broker, link = await _started()
        [tid] = await broker.create_keyed_tasks("s", [b"x"], ["k2"])
        run = asyncio.create_task(broker.run_task("s", b"x", "k2"))
        assert await _answer_one(broker, link, b"X") == tid
        final = await asyncio.wait_for(run, 5)
        assert (final.id, final.output) == (tid, b"X")
        unkeyed = asyncio.create_task(broker.run_task("s", b"y"))  # no key: a new task
        other = await _answer_one(broker, link, b"Y")
        assert other != tid and (await asyncio.wait_for(unkeyed, 5)).id == other
        await broker.close()

    asyncio.run(scenario())
