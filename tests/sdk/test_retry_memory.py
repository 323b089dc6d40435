"""Session.run over the in-memory transport with injected UNAVAILABLE: what the dispatcher retries.

Every future resolves exactly once (a Future raises if set twice), with its own task's output, and
no task is created twice.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import flamepy
from flamepy.transport.memory import MemoryTransport
from flamepy.types import TaskState

DOWN = flamepy.UnavailableError("create tasks: connection refused (unavailable)")


def _session(conn: flamepy.Connection, sid: str = "s1") -> flamepy.Session:
    return conn.create_session(flamepy.SessionAttributes(application="app", id=sid))


@pytest.fixture
def retrying() -> MemoryTransport:
    return MemoryTransport(retry_deadline=30.0)


@pytest.fixture
def rconn(retrying: MemoryTransport) -> Iterator[flamepy.Connection]:
    with flamepy.Connection.over(retrying) as c:
        yield c


def _inputs(n: int) -> list[bytes]:
    return [f"in-{i}".encode() for i in range(n)]


def test_submission_refused_for_a_while_is_retried(
    retrying: MemoryTransport, rconn: flamepy.Connection
) -> None:
    retrying.faults["create_tasks"] = [DOWN] * 3
    ssn = _session(rconn)
    inputs = _inputs(50)
    futures = [ssn.run(x) for x in inputs]
    assert [f.result(timeout=30) for f in futures] == inputs
    assert len(retrying.tasks[ssn.id]) == 50  # each created once
    assert retrying.counters["create_tasks"] >= 4
    ssn.close()


def test_lost_answer_is_retried_with_the_same_keys(
    retrying: MemoryTransport, rconn: flamepy.Connection
) -> None:
    """The server created the tasks (and ran them) but the answer was lost: the same keys give the
    same tasks, whose completions (seen before their ids were known) resolve the futures."""
    retrying.lost_replies["create_tasks"] = [DOWN, DOWN]
    ssn = _session(rconn)
    inputs = _inputs(20)
    futures = [ssn.run(x) for x in inputs]
    assert [f.result(timeout=30) for f in futures] == inputs
    assert len(retrying.tasks[ssn.id]) == 20  # not created again
    assert retrying.counters["create_tasks_deduped"] >= 20
    ssn.close()


def test_submission_gives_up_at_the_deadline_saying_the_tasks_may_run() -> None:
    transport = MemoryTransport(retry_deadline=0.3)
    transport.fail["create_tasks"] = DOWN
    with flamepy.Connection.over(transport) as conn:
        ssn = _session(conn)
        futures = [ssn.run(x) for x in _inputs(3)]
        for fut in futures:
            with pytest.raises(
                flamepy.UnavailableError, match=r"unreachable for 0\.3 s; these tasks may still run"
            ):
                fut.result(timeout=30)
        assert transport.counters["create_tasks"] >= 2
        del transport.fail["create_tasks"]
        assert ssn.run(b"later").result(timeout=30) == b"later"


def test_non_retryable_submission_error_fails_at_once(
    retrying: MemoryTransport, rconn: flamepy.Connection
) -> None:
    bad = flamepy.InvalidArgumentError("create tasks: input of 70 MB exceeds the limit")
    retrying.faults["create_tasks"] = [bad]
    ssn = _session(rconn)
    with pytest.raises(flamepy.InvalidArgumentError, match="exceeds the limit"):
        ssn.run(b"x").result(timeout=30)
    assert retrying.counters["create_tasks"] == 1
    assert ssn.run(b"y").result(timeout=30) == b"y"


def test_plain_server_submission_is_not_retried() -> None:
    """Without FrontendExt there are no keys: a repeated CreateTask might create the task twice."""
    transport = MemoryTransport(session_watch=False, retry_deadline=30.0)
    transport.faults["create_task"] = [DOWN]
    with flamepy.Connection.over(transport) as conn:
        ssn = _session(conn)
        with pytest.raises(flamepy.UnavailableError):
            ssn.run(b"x").result(timeout=30)
        assert transport.counters["create_task"] == 1
        assert ssn.run(b"y").result(timeout=30) == b"y"


def test_watch_down_past_the_deadline_fails_outstanding_futures_once() -> None:
    transport = MemoryTransport(lambda data: None, retry_deadline=0.5)  # tasks stay Pending
    with flamepy.Connection.over(transport) as conn:
        ssn = _session(conn)
        futures = [ssn.run(x) for x in _inputs(3)]
        with transport.cond:
            assert transport.cond.wait_for(lambda: len(transport.tasks[ssn.id]) == 3, timeout=10)
        transport.fail["watch_session"] = DOWN
        transport.break_watches(ssn.id, DOWN)
        for fut in futures:
            with pytest.raises(flamepy.UnavailableError, match="their tasks may still run"):
                fut.result(timeout=30)
        # the server comes back and finishes a task: nothing is resolved twice
        del transport.fail["watch_session"]
        transport.complete(ssn.id, "1", (TaskState.SUCCEED, b"late", None))
        transport.behaviour = lambda data: (TaskState.SUCCEED, data, None)
        assert ssn.run(b"after").result(timeout=30) == b"after"


def test_task_unknown_after_the_watch_returns_fails_clearly(
    retrying: MemoryTransport, rconn: flamepy.Connection
) -> None:
    retrying.behaviour = lambda data: None
    ssn = _session(rconn)
    kept, forgotten = ssn.run(b"kept"), ssn.run(b"forgotten")
    with retrying.cond:
        assert retrying.cond.wait_for(lambda: len(retrying.tasks[ssn.id]) == 2, timeout=10)
        del retrying.tasks[ssn.id]["2"]  # a server that lost the task (restored from an old backup)
    retrying.break_watches(ssn.id, DOWN)
    retrying.complete(ssn.id, "1", (TaskState.SUCCEED, b"kept", None))
    assert kept.result(timeout=30) == b"kept"
    with pytest.raises(flamepy.NotFoundError, match="task 2 of session 's1' is unknown"):
        forgotten.result(timeout=30)


def test_reads_of_a_reconcile_that_cannot_happen_fail_the_tasks(
    retrying: MemoryTransport, rconn: flamepy.Connection
) -> None:
    """The watch is back but the server cannot be asked what it missed: the futures fail rather than
    wait for completions that already went by."""
    retrying.behaviour = lambda data: None
    ssn = _session(rconn)
    fut = ssn.run(b"x")
    with retrying.cond:
        assert retrying.cond.wait_for(lambda: len(retrying.tasks[ssn.id]) == 1, timeout=10)
    retrying.fail["get_task"] = flamepy.UnavailableError("get task 1: unreachable for 60 s")
    retrying.break_watches(ssn.id, DOWN)
    with pytest.raises(flamepy.UnavailableError, match="unreachable"):
        fut.result(timeout=30)
