"""Reading a job task's log through its node (``FrontendExt.ReadTaskLog``; shell side, asyncio).

The log of a job task lives on the node that ran it (``flamepy.apps.joblog``). The core keeps the
node of each task's latest attempt (``TaskRecord.ran_on``, persisted in the task's run record, so
it survives a restart of this server); :class:`TaskLogs` looks it up (storage for a finished task),
sends that node a :class:`~session_manager.effects.ReadLogCmd` over its Attach stream and waits
for the node's answer with the same request id, at most ``timeout`` seconds. A read whose node's
stream ends before it answers fails at once. Nothing here runs for ordinary tasks: no state, no
records, no cost on the task path.

Errors: NOT_FOUND for an unknown task, one that never ran, or one with no log on its node (not a
job, or the log was removed); UNAVAILABLE naming the node when it is not connected, its stream
ended, it did not answer in time, or it could not read the file.

Concurrency model: used only from the server's event loop.
"""

from __future__ import annotations

from flamepy.errors import NotFoundError, UnavailableError
from flamepy.tasklog import TaskLogChunk
from session_manager import effects
from session_manager.core import Core
from session_manager.events import NodeLogReply
from session_manager.links import Links
from session_manager.node_requests import NodeRequests
from session_manager.storage.base import Storage


class TaskLogs:
    def __init__(self, links: Links, storage: Storage, timeout: float, requests: NodeRequests) -> None:
        self._links = links
        self._storage = storage
        self.timeout = timeout
        self._requests = requests

    def ran_on(self, core: Core, sid: str, tid: str) -> str:
        """The node of the task's latest attempt; NotFoundError when the task is unknown or never
        ran."""
        rec = core.find_task(sid, tid)  # NotFoundError for an unknown session or task
        if rec is not None:
            node = rec.ran_on
        else:
            run = self._storage.load_run(sid, int(tid))
            node = run.ran_on if run is not None else None
        if not node:
            raise NotFoundError(f"task {sid}/{tid} has not run on any node yet: it has no log")
        return node

    async def read(self, core: Core, sid: str, tid: str, offset: int, max_bytes: int) -> TaskLogChunk:
        """Bytes of the task's log from ``offset`` (see the module docstring for the errors)."""
        node = self.ran_on(core, sid, tid)
        link = self._links.get(node)
        if link is None:
            raise UnavailableError(
                f"node {node} that ran task {sid}/{tid} is not connected; its logs are on that node"
            )
        reply = await self._requests.ask(
            link,
            lambda rid: effects.ReadLogCmd(link.name, rid, sid, tid, offset, max_bytes),
            NodeLogReply,
            self.timeout,
            f"the log of task {sid}/{tid}",
        )
        if reply.not_found:
            raise NotFoundError(
                f"task {sid}/{tid} has no job log on node {node} (not a job task, or its log was "
                f"removed): {reply.error}"
            )
        if reply.error:
            raise UnavailableError(f"node {node} could not read the log of task {sid}/{tid}: {reply.error}")
        return TaskLogChunk(reply.data, reply.offset, reply.next_offset, reply.eof, reply.size, node)
