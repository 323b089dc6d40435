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

import asyncio
import itertools

from flamepy.errors import NotFoundError, UnavailableError
from flamepy.tasklog import TaskLogChunk
from session_manager import effects
from session_manager.core import Core
from session_manager.events import NodeLogReply
from session_manager.links import Links, NodeLink
from session_manager.storage.base import Storage


class TaskLogs:
    def __init__(self, links: Links, storage: Storage, timeout: float) -> None:
        self._links = links
        self._storage = storage
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[NodeLink, asyncio.Future[NodeLogReply]]] = {}

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
        reply = await self._ask(link, sid, tid, offset, max_bytes)
        if reply.not_found:
            raise NotFoundError(
                f"task {sid}/{tid} has no job log on node {node} (not a job task, or its log was "
                f"removed): {reply.error}"
            )
        if reply.error:
            raise UnavailableError(f"node {node} could not read the log of task {sid}/{tid}: {reply.error}")
        return TaskLogChunk(reply.data, reply.offset, reply.next_offset, reply.eof, reply.size, node)

    async def _ask(self, link: NodeLink, sid: str, tid: str, offset: int, max_bytes: int) -> NodeLogReply:
        rid = next(self._ids)
        future: asyncio.Future[NodeLogReply] = asyncio.get_running_loop().create_future()
        self._pending[rid] = (link, future)
        link.queue.put_nowait(effects.ReadLogCmd(link.name, rid, sid, tid, offset, max_bytes))
        try:
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError as exc:
            raise UnavailableError(
                f"node {link.name} did not answer for the log of task {sid}/{tid} within {self.timeout:g}s"
            ) from exc
        finally:
            self._pending.pop(rid, None)

    def answer(self, link: NodeLink, reply: NodeLogReply) -> None:
        """A node's answer: completes the read waiting for it (a late or foreign one is dropped)."""
        entry = self._pending.get(reply.request_id)
        if entry is not None and entry[0] is link and not entry[1].done():
            entry[1].set_result(reply)

    def link_ended(self, link: NodeLink) -> None:
        """The node's stream ended: every read waiting on it fails now."""
        for rid, (owner, future) in list(self._pending.items()):
            if owner is link and not future.done():
                future.set_exception(
                    UnavailableError(f"the stream of node {link.name} ended before it sent the log")
                )
                del self._pending[rid]
