"""Routing commands to nodes' links: queued for the stream, or written at once by a transport that
can (the local socket) — never out of order, never past unsent bytes."""

from __future__ import annotations

import asyncio

from session_manager import effects
from session_manager.links import Links


def cancel(node: str, tid: str) -> effects.CancelCmd:
    return effects.CancelCmd(node, "e1", "s", tid, 1, "test")


def tid(cmd: effects.Command | None) -> str:
    assert isinstance(cmd, effects.CancelCmd)
    return cmd.task_id


def ids(cmds: list[effects.Command] | None) -> list[str]:
    return [tid(c) for c in cmds or []]


def drain(queue: asyncio.Queue[effects.Command | None]) -> list[str]:
    out = []
    while not queue.empty():
        out.append(tid(queue.get_nowait()))
    return out


async def _commands_are_queued_per_node_in_order_without_a_direct_writer() -> None:
    links = Links()
    a, b = links.attach("a"), links.attach("b")
    links.send([cancel("a", "1"), cancel("b", "2"), cancel("a", "3"), cancel("zz", "4")])
    assert drain(a.queue) == ["1", "3"]
    assert drain(b.queue) == ["2"]


async def _direct_writer_takes_commands_only_while_nothing_waits_to_be_sent() -> None:
    links = Links()
    link = links.attach("a")
    written: list[str] = []
    can_write = True

    def direct(cmds: list[effects.Command]) -> bool:
        if can_write:
            written.extend(ids(cmds))
        return can_write

    link.direct = direct
    links.send([cancel("a", "1"), cancel("a", "2")])
    assert written == ["1", "2"] and link.queue.empty()
    can_write = False  # the transport's buffer holds unsent bytes: queue
    links.send([cancel("a", "3")])
    can_write = True  # ... and while one is queued, later ones queue behind it
    links.send([cancel("a", "4")])
    assert written == ["1", "2"]
    batch = await link.next_batch()
    assert ids(batch) == ["3", "4"]
    links.send([cancel("a", "5")])  # the stream may still be writing that batch: queue
    assert written == ["1", "2"] and not link.queue.empty()
    assert ids(await link.next_batch()) == ["5"]
    waiting = asyncio.ensure_future(link.next_batch())  # back to waiting: the batch was sent
    await asyncio.sleep(0)
    links.send([cancel("a", "6")])
    assert written == ["1", "2", "6"]
    link.close()
    assert await waiting is None


async def _a_dropped_node_gets_what_came_before_the_drop_and_then_its_stream_ends() -> None:
    links = Links()
    link = links.attach("a")
    written: list[str] = []

    def direct(cmds: list[effects.Command]) -> bool:
        written.extend(ids(cmds))
        return True

    link.direct = direct
    links.send([cancel("a", "1"), effects.DropNodeCmd("a"), cancel("a", "2")])
    assert written == ["1"] and link.direct is None
    assert await link.next_batch() is None


def test_commands_are_queued_per_node_in_order_without_a_direct_writer() -> None:
    asyncio.run(_commands_are_queued_per_node_in_order_without_a_direct_writer())


def test_direct_writer_takes_commands_only_while_nothing_waits_to_be_sent() -> None:
    asyncio.run(_direct_writer_takes_commands_only_while_nothing_waits_to_be_sent())


def test_a_dropped_node_gets_what_came_before_the_drop_and_then_its_stream_ends() -> None:
    asyncio.run(_a_dropped_node_gets_what_came_before_the_drop_and_then_its_stream_ends())
