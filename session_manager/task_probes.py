"""Looking into a running job task through its node (``FrontendExt.GetTaskStats``,
``FrontendExt.ExecInTask``; shell side, asyncio).

Both go to the node that runs the task's current attempt (the core's ``TaskRecord.ran_on``) over
its Attach stream, as log reads do (``task_logs``; the waits are :class:`NodeRequests`): a stats
probe waits at most ``timeout`` (the server's ``node_log_timeout``) for its one answer; an exec
streams the command's output back as the node sends it, for at most the command's own timeout
plus ``timeout`` in all, and tells the node to kill the command when its caller goes away first.
The node finds the job from the ids alone (its job runner's state file) and only for tasks that run
on it. Nothing here runs for ordinary tasks: no state, no records.

Errors: NOT_FOUND for an unknown task or one with no job on its node (not a job task);
FAILED_PRECONDITION (InvalidStateError) when the task is not Running or its job's processes have
ended; UNAVAILABLE naming the node when it is not connected, its stream ended, it did not answer
in time, or it failed to measure.

Concurrency model: used only from the server's event loop.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncGenerator

from flamepy.errors import InvalidStateError, NotFoundError, UnavailableError
from flamepy.taskprobe import ExecChunk, TaskStats
from flamepy.types import TaskState
from session_manager import effects
from session_manager.core import Core
from session_manager.events import NodeExecReply, NodeStatsReply
from session_manager.links import Links, NodeLink
from session_manager.node_requests import NodeRequests


class TaskProbes:
    def __init__(self, links: Links, requests: NodeRequests, timeout: float) -> None:
        self._links = links
        self._requests = requests
        self.timeout = timeout

    def _running_on(self, core: Core, sid: str, tid: str) -> NodeLink:
        """The link of the node running the task (see the module docstring for the errors)."""
        rec = core.find_task(sid, tid)  # NotFoundError for an unknown session or task
        if rec is None or rec.state != TaskState.RUNNING or not rec.ran_on:
            state = "finished" if rec is None else rec.state.name.lower()
            raise InvalidStateError(f"task {sid}/{tid} is not running ({state})")
        link = self._links.get(rec.ran_on)
        if link is None:
            raise UnavailableError(f"node {rec.ran_on} that runs task {sid}/{tid} is not connected")
        return link

    async def stats(self, core: Core, sid: str, tid: str) -> TaskStats:
        """The task's resource use, measured on its node."""
        link = self._running_on(core, sid, tid)
        reply = await self._requests.ask(
            link,
            lambda rid: effects.StatsCmd(link.name, rid, sid, tid),
            NodeStatsReply,
            self.timeout,
            f"the stats of task {sid}/{tid}",
        )
        if reply.not_found:
            raise NotFoundError(f"task {sid}/{tid} has no job on node {link.name}: {reply.error}")
        if reply.error or reply.stats is None:
            raise UnavailableError(f"node {link.name} could not measure task {sid}/{tid}: {reply.error}")
        if not reply.stats.running:
            raise InvalidStateError(f"the job of task {sid}/{tid} has ended (its processes are gone)")
        return dataclasses.replace(reply.stats, node=link.name)

    async def exec(
        self, core: Core, sid: str, tid: str, argv: tuple[str, ...], timeout_s: float
    ) -> AsyncGenerator[ExecChunk, None]:
        """The command's output as the node sends it, then its end (``done``, exit code)."""
        link = self._running_on(core, sid, tid)
        replies = self._requests.stream(
            link,
            lambda rid: effects.ExecCmd(link.name, rid, sid, tid, argv, timeout_s),
            NodeExecReply,
            timeout_s + self.timeout,
            f"the command run beside task {sid}/{tid}",
            last=lambda r: r.chunk.done,
            stop=lambda rid: effects.ExecStopCmd(link.name, rid),
        )
        async with contextlib.aclosing(replies):  # closed at once when our caller leaves: stop sent
            async for reply in replies:
                if reply.not_found:
                    raise NotFoundError(f"task {sid}/{tid} has no job on node {link.name}: {reply.error}")
                if reply.not_running:
                    raise InvalidStateError(
                        f"task {sid}/{tid} is not running on node {link.name}: {reply.error}"
                    )
                if reply.error:
                    raise UnavailableError(f"node {link.name} could not run the command: {reply.error}")
                yield dataclasses.replace(reply.chunk, node=link.name)
