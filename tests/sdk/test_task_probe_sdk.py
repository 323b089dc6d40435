"""Connection.task_stats / exec_in_task on the in-memory transport: a running job task answers
what its node would; a task that is not running or not a job raises the error the session
manager gives, and bad input is refused before any call."""

from __future__ import annotations

import pytest

import flamepy
from flamepy.errors import InvalidArgumentError, InvalidStateError, NotFoundError
from flamepy.taskprobe import ExecChunk, GpuStats, TaskStats
from flamepy.transport.memory import MemoryTransport
from flamepy.types import TaskState


@pytest.fixture
def setup() -> tuple[MemoryTransport, flamepy.Connection, str, str]:
    t = MemoryTransport(behaviour=lambda data: None)  # tasks stay Pending until moved here
    conn = flamepy.Connection.over(t)
    ssn = conn.create_session(flamepy.SessionAttributes(application="flmexec"))
    task = ssn.create_task(b"job")
    return t, conn, ssn.id, task.id


def test_stats_and_exec_of_a_running_job_task(setup) -> None:
    t, conn, sid, tid = setup
    with pytest.raises(InvalidStateError, match="is not running"):
        conn.task_stats(sid, tid)  # still Pending
    t.set_state(sid, tid, TaskState.RUNNING)
    with pytest.raises(NotFoundError, match="has no job"):
        conn.task_stats(sid, tid)
    stats = TaskStats("memory", (7,), 12.5, 1 << 20, (GpuStats(0),), True)
    t.task_stats_of[(sid, tid)] = stats
    assert conn.task_stats(sid, tid) == stats
    t.task_exec[(sid, tid)] = lambda argv: (3, " ".join(argv).encode())
    chunks = list(conn.exec_in_task(sid, tid, ["echo", "hi"]))
    assert chunks == [ExecChunk(b"echo hi", node="memory"), ExecChunk(done=True, exit_code=3, node="memory")]
    with pytest.raises(InvalidArgumentError):
        conn.exec_in_task(sid, tid, [])
    with pytest.raises(InvalidArgumentError):
        conn.exec_in_task(sid, tid, ["true"], timeout_s=-1)
    with pytest.raises(NotFoundError):
        conn.task_stats(sid, "99")
