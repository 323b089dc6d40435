"""flamepy.joblogs and Connection.read_task_log on the in-memory transport: chunks become records,
following reads on until the task is terminal and its log is read to the end."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

import flamepy
from flamepy.errors import InvalidArgumentError, NotFoundError, TaskTimeoutError
from flamepy.joblogs import iter_log_records, tail_records
from flamepy.tasklog import TaskLogChunk
from flamepy.transport.memory import MemoryTransport
from flamepy.types import Task, TaskState

R1 = b'{"t":1,"s":"sys","l":"job j task 0","e":"start"}\n'
R2 = b'{"t":2,"s":"out","l":"hello"}\n'
R3 = b'{"t":3,"s":"sys","l":"exit code 0 (Completed)","e":"exit","code":0}\n'


@pytest.fixture
def setup() -> tuple[MemoryTransport, flamepy.Connection, str, str]:
    t = MemoryTransport(behaviour=lambda data: None)  # tasks stay Pending until completed here
    conn = flamepy.Connection.over(t)
    ssn = conn.create_session(flamepy.SessionAttributes(application="flmexec"))
    task = ssn.create_task(b"job")
    return t, conn, ssn.id, task.id


def test_records_of_the_log_as_it_is_now(setup) -> None:
    t, conn, sid, tid = setup
    t.task_logs[(sid, tid)] = R1 + b"not json\n" + R2 + b'{"t":4,"s":"out","l":"half'
    records = list(iter_log_records(conn, sid, tid, chunk_bytes=7))  # lines cut across chunks
    assert [r["l"] for r in records] == ["job j task 0", "hello"]  # the incomplete line waits
    chunk = conn.read_task_log(sid, tid, 3, 5)
    assert chunk == TaskLogChunk(R1[3:8], 3, 8, False, len(t.task_logs[(sid, tid)]), "memory")
    with pytest.raises(InvalidArgumentError):
        conn.read_task_log(sid, tid, -1)
    with pytest.raises(NotFoundError):
        conn.read_task_log(sid, "99")


def test_follow_reads_on_until_the_task_ended_and_its_log_is_read(setup) -> None:
    t, conn, sid, tid = setup
    t.task_logs[(sid, tid)] = R1
    it = iter_log_records(conn, sid, tid, follow=True, poll=0.01, deadline=10)
    assert next(it)["e"] == "start"
    t.task_logs[(sid, tid)] += R2 + R3  # the job wrote more, then ended
    t.complete(sid, tid, (TaskState.SUCCEED, b"{}", None))
    assert [r["t"] for r in it] == [2, 3]


def test_follow_waits_for_a_log_that_does_not_exist_yet(setup) -> None:
    t, conn, sid, tid = setup
    read = t.read_task_log
    calls: list[int] = []

    def first_not_found_then_done(*args: object) -> TaskLogChunk:
        calls.append(1)
        if len(calls) == 1:
            try:
                return read(*args)  # type: ignore[arg-type]
            finally:  # the task started, wrote its log and ended meanwhile
                t.task_logs[(sid, tid)] = R1 + R3
                t.complete(sid, tid, (TaskState.SUCCEED, b"{}", None))
        return read(*args)  # type: ignore[arg-type]

    t.read_task_log = first_not_found_then_done  # type: ignore[method-assign]
    records = list(iter_log_records(conn, sid, tid, follow=True, poll=0.01, deadline=10))
    assert [r["t"] for r in records] == [1, 3] and len(calls) >= 2


def test_follow_has_a_deadline_and_a_stop(setup) -> None:
    t, conn, sid, tid = setup
    t.task_logs[(sid, tid)] = R1
    with pytest.raises(TaskTimeoutError, match="still runs"):
        list(iter_log_records(conn, sid, tid, follow=True, poll=0.01, deadline=0.05))
    stop = threading.Event()
    stop.set()
    assert len(list(iter_log_records(conn, sid, tid, follow=True, stop=stop))) == 1
    t.complete(sid, tid, (TaskState.CANCELLED, None, "cancelled"))
    del t.task_logs[(sid, tid)]
    with pytest.raises(NotFoundError):  # ended without a log: following cannot wait for one
        list(iter_log_records(conn, sid, tid, follow=True, poll=0.01))


@dataclass
class _TwoNodes:
    """A task re-run on node b after node a: its log there starts afresh."""

    logs: dict[str, bytes] = field(default_factory=lambda: {"a": R1 + R2, "b": R1 + R3})
    reads: list[tuple[str, int]] = field(default_factory=list)

    def read_task_log(self, sid: str, tid: str, offset: int, max_bytes: int) -> TaskLogChunk:
        node = "a" if not self.reads else "b"
        self.reads.append((node, offset))
        data = self.logs[node][offset : offset + max_bytes]
        end = offset + len(data)
        return TaskLogChunk(data, offset, end, end >= len(self.logs[node]), len(self.logs[node]), node)

    def get_task(self, sid: str, tid: str) -> Task:  # Running while node a is read, then ended
        return Task(tid, sid, TaskState.SUCCEED if self.reads else TaskState.RUNNING, None, None, 0)


def test_a_task_that_ran_again_elsewhere_is_read_from_the_start_there() -> None:
    conn = _TwoNodes()
    records = list(iter_log_records(conn, "s", "1", follow=True, poll=0.01))  # type: ignore[arg-type]
    assert [r["t"] for r in records] == [1, 2, 1, 3]
    assert conn.reads == [("a", 0), ("b", len(R1 + R2)), ("b", 0)]


def test_tail_records_and_following_from_there(setup) -> None:
    t, conn, sid, tid = setup
    t.task_logs[(sid, tid)] = R1 + R2 + R3
    records, offset = tail_records(conn, sid, tid, lines=2)
    assert [r["t"] for r in records] == [2, 3] and offset == len(R1 + R2 + R3)
    records, offset = tail_records(conn, sid, tid, lines=5, window=len(R3) + 3)  # first line cut
    assert [r["t"] for r in records] == [3] and offset == len(R1 + R2 + R3)
    t.task_logs[(sid, tid)] += R2 + R3  # a retry on the same node appends
    t.complete(sid, tid, (TaskState.SUCCEED, b"{}", None))
    assert [r["t"] for r in iter_log_records(conn, sid, tid, follow=True, offset=offset)] == [2, 3]


def test_follow_waits_for_the_exit_record_of_a_cancelled_job(setup) -> None:
    """The task is Cancelled at once; its runner writes the cancel and exit records after."""
    t, conn, sid, tid = setup
    t.task_logs[(sid, tid)] = R1 + R2
    t.complete(sid, tid, (TaskState.CANCELLED, None, "cancelled by the client"))
    read = t.read_task_log
    passes: list[int] = []

    def runner_writes_exit_on_the_second_pass(*args: object) -> TaskLogChunk:
        passes.append(1)
        if len(passes) == 2:
            t.task_logs[(sid, tid)] += R3
        return read(*args)  # type: ignore[arg-type]

    t.read_task_log = runner_writes_exit_on_the_second_pass  # type: ignore[method-assign]
    records = list(iter_log_records(conn, sid, tid, follow=True, poll=0.01, deadline=10))
    assert [r["t"] for r in records] == [1, 2, 3]
    t.task_logs[(sid, tid)] = R1 + R2  # no exit record ever (the node died): the grace ends it
    records = list(iter_log_records(conn, sid, tid, follow=True, poll=0.01, exit_grace=0.05))
    assert [r["t"] for r in records] == [1, 2]
