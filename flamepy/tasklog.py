"""A chunk of a job task's log, read through the session manager (``FrontendExt.ReadTaskLog``).

Shared by the SDK (:meth:`flamepy.Connection.read_task_log`) and the servers. The bytes are the raw
JSON lines of the task's log file (format: :mod:`flamepy.apps.joblog`); :mod:`flamepy.joblogs`
turns chunks into records.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_LOG_CHUNK_BYTES = 1 << 20  # what max_bytes 0 (or the SDK's default) reads
MAX_LOG_CHUNK_BYTES = 4 << 20  # the session manager's default bound (limit max_log_chunk_bytes)
NODE_LOG_TIMEOUT_S = 10.0  # how long the session manager waits for a node's answer

__all__ = ["DEFAULT_LOG_CHUNK_BYTES", "MAX_LOG_CHUNK_BYTES", "NODE_LOG_TIMEOUT_S", "TaskLogChunk"]


@dataclass(frozen=True)
class TaskLogChunk:
    """Bytes ``[offset, next_offset)`` of a task's log file as it was when read.

    ``eof``: the data reaches the end of the file as it is now (a running job's log may still
    grow); ``size``: the file's size then; ``node``: the node holding the log (it ran the task's
    latest attempt). The last line of ``data`` may be incomplete (being written, or cut by
    ``max_bytes``): read on from ``next_offset``."""

    data: bytes
    offset: int
    next_offset: int
    eof: bool
    size: int = 0
    node: str = ""
