"""NodeRequests without a network: answers reach the wait for their id (and only from the node
asked), a wait is forgotten as soon as it ends, a stream left early or timed out tells the node
to stop, and a node whose stream ends fails what waits on it."""

from __future__ import annotations

import asyncio

import pytest

from flamepy.errors import UnavailableError
from flamepy.taskprobe import ExecChunk
from session_manager import effects
from session_manager.events import NodeExecReply, NodeStatsReply
from session_manager.links import NodeLink
from session_manager.node_requests import NodeRequests


def _stats_cmd(link: NodeLink):
    return lambda rid: effects.StatsCmd(link.name, rid, "s", "1")


def test_an_answer_reaches_its_wait_and_only_from_the_node_asked() -> None:
    async def scenario() -> None:
        reqs, link, other = NodeRequests(), NodeLink("n1"), NodeLink("n2")
        wait = asyncio.ensure_future(reqs.ask(link, _stats_cmd(link), NodeStatsReply, 5, "the stats"))
        cmd = await link.queue.get()
        assert isinstance(cmd, effects.StatsCmd)
        reqs.answer(other, NodeStatsReply(cmd.request_id, None, error="foreign"))  # dropped
        reqs.answer(link, NodeStatsReply(cmd.request_id + 1, None, error="late"))  # dropped
        reqs.answer(link, NodeStatsReply(cmd.request_id, None, not_found=True))
        assert (await wait).not_found
        assert reqs._pending == {}

    asyncio.run(scenario())


def test_a_stream_that_times_out_or_is_left_tells_the_node_to_stop() -> None:
    async def scenario() -> None:
        reqs, link = NodeRequests(), NodeLink("n1")

        def start(rid: int) -> effects.Command:
            return effects.ExecCmd("n1", rid, "s", "1", ("true",), 1)

        def stop(rid: int) -> effects.Command:
            return effects.ExecStopCmd("n1", rid)

        stream = reqs.stream(link, start, NodeExecReply, 0.05, "the command", lambda r: r.chunk.done, stop)
        with pytest.raises(UnavailableError, match="node n1 did not answer for the command within 0.05s"):
            await anext(stream)
        started, stopped = link.queue.get_nowait(), link.queue.get_nowait()
        assert isinstance(started, effects.ExecCmd) and stopped == effects.ExecStopCmd(
            "n1", started.request_id
        )

        left = reqs.stream(link, start, NodeExecReply, 5, "the command", lambda r: r.chunk.done, stop)
        task = asyncio.ensure_future(anext(left))
        cmd = await link.queue.get()
        reqs.answer(link, NodeExecReply(cmd.request_id, ExecChunk(b"x")))
        assert (await task).chunk.data == b"x"
        await left.aclose()
        assert link.queue.get_nowait() == effects.ExecStopCmd("n1", cmd.request_id)
        assert reqs._pending == {}

    asyncio.run(scenario())


def test_a_wait_fails_at_once_when_the_nodes_stream_ends() -> None:
    async def scenario() -> None:
        reqs, link = NodeRequests(), NodeLink("n1")
        wait = asyncio.ensure_future(
            reqs.ask(link, _stats_cmd(link), NodeStatsReply, 60, "the stats of task s/1")
        )
        await link.queue.get()
        reqs.link_ended(link)
        with pytest.raises(
            UnavailableError, match="stream of node n1 ended before it sent the stats of task s/1"
        ):
            await wait

    asyncio.run(scenario())
