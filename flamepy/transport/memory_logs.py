"""``MemoryTransport.read_task_log``: job logs in the in-memory session manager.

There is no node: a test puts a task's log bytes in ``MemoryTransport.task_logs[(session, task)]``
(appending to follow a running job). Reads slice them as the real node does (an offset past the
end reads from the end); an unknown task, or one without an entry, is NotFoundError.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flamepy.errors import NotFoundError
from flamepy.tasklog import DEFAULT_LOG_CHUNK_BYTES, TaskLogChunk

if TYPE_CHECKING:
    from flamepy.transport.memory import MemoryTransport

NODE = "memory"


def read_task_log(
    t: MemoryTransport, session_id: str, task_id: str, offset: int, max_bytes: int
) -> TaskLogChunk:
    with t.cond:
        t._enter("read_task_log")
        t.task(session_id, task_id)
        log = t.task_logs.get((session_id, task_id))
    if log is None:
        raise NotFoundError(f"task {session_id}/{task_id} has no job log on node {NODE}")
    start = min(offset, len(log))
    data = log[start : start + (max_bytes or DEFAULT_LOG_CHUNK_BYTES)]
    end = start + len(data)
    return TaskLogChunk(data, start, end, end >= len(log), len(log), NODE)
