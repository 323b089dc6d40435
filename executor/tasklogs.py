"""Reading job logs on this node for the session manager (``ReadLog`` → ``LogData``).

A job runner (:mod:`flamepy.apps.jobrun`) links each task's log into the node's index,
``<work dir>/task-logs/<session>/<task>.log`` (:func:`flamepy.apps.joblog.index_path`: ids are
escaped into single safe path components, so no id can reach outside the index). The executor
manager gives its service processes that directory in ``FLAME_TASK_LOG_INDEX``
(:func:`index_root`) and reads a task's log from its ids alone, with no executor needed (the log
outlives the service process, the session and a restart of either server).

Concurrency model: :func:`read_log` does blocking file I/O; the node session runs it in a worker
thread (``asyncio.to_thread``), never on the event loop.
"""

from __future__ import annotations

import os
from pathlib import Path

from executor.events import LogData, ReadLogRequest
from flamepy.apps.joblog import index_path
from flamepy.tasklog import DEFAULT_LOG_CHUNK_BYTES, MAX_LOG_CHUNK_BYTES

INDEX_DIR_NAME = "task-logs"


def index_root(work_dir: Path) -> Path:
    """The node's log index under its work directory."""
    return Path(work_dir) / INDEX_DIR_NAME


def read_log(root: Path, req: ReadLogRequest) -> LogData:
    """Up to ``req.max_bytes`` (0: the default, at most :data:`MAX_LOG_CHUNK_BYTES`) of the task's
    log from ``req.offset``; an offset past the end reads from the end. ``not_found`` when the
    task has no log here (not a job, never ran here, or its log was removed)."""
    label = f"task {req.session_id}/{req.task_id}"
    try:
        path = index_path(root, req.session_id, req.task_id)
    except ValueError as exc:
        return LogData(req.request_id, not_found=True, error=f"{label}: {exc}")
    most = min(req.max_bytes or DEFAULT_LOG_CHUNK_BYTES, MAX_LOG_CHUNK_BYTES)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            offset = min(req.offset, size)
            f.seek(offset)
            data = f.read(min(most, size - offset))
    except FileNotFoundError:
        return LogData(req.request_id, not_found=True, error=f"{label} has no job log on this node")
    except OSError as exc:
        return LogData(req.request_id, error=f"{label}: cannot read its log: {exc.strerror or exc}")
    end = offset + len(data)
    return LogData(req.request_id, data, offset, end, end >= size, size)
