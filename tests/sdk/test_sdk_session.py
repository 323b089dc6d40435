"""Session: one task at a time (create/get/list/watch/invoke) and many (run) over the memory transport."""

from __future__ import annotations

import concurrent.futures
import threading

import pytest

import flamepy
from flamepy import _dispatch as dispatch_mod
from flamepy import dispatch_state
from flamepy.transport.memory import MemoryTransport
from flamepy.types import TaskState


def _session(conn: flamepy.Connection, sid: str = "s1") -> flamepy.Session:
    return conn.create_session(flamepy.SessionAttributes(application="app", id=sid))


# -- one task at a time ----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["text", 1, [b"x"], {"a": 1}])
def test_non_bytes_input_names_the_type(conn: flamepy.Connection, bad) -> None:
    ssn = _session(conn)
    for op in (ssn.create_task, ssn.invoke, ssn.run):
        with pytest.raises(flamepy.InvalidArgumentError, match=type(bad).__name__):
            op(bad)


def test_create_get_list_watch(conn: flamepy.Connection) -> None:
    ssn = _session(conn)
    t1 = ssn.create_task(b"one")
    t2 = ssn.create_task(bytearray(b"two"))
    t3 = ssn.create_task(None)
    assert [t1.id, t2.id, t3.id] == ["1", "2", "3"]
    assert ssn.get_task("2").output == b"two"
    assert ssn.get_task("3").input is None
    assert [t.id for t in ssn.list_tasks()] == ["1", "2", "3"]
    snapshots = list(ssn.watch_task(t1.id))
    assert snapshots[-1].state == flamepy.TaskState.SUCCEED
    assert snapshots[-1].output == b"one"
    with pytest.raises(flamepy.NotFoundError):
        ssn.get_task("99")


def test_watch_task_follows_states(memory: MemoryTransport, conn: flamepy.Connection) -> None:
    ssn = _session(conn)
    task = ssn.create_task(b"pending")
    watcher = ssn.watch_task(task.id, timeout=30)
    first = next(watcher)
    assert first.state == flamepy.TaskState.PENDING
    memory.complete(ssn.id, task.id, (TaskState.SUCCEED, b"done", None))
    rest = list(watcher)
    assert rest[-1].state == flamepy.TaskState.SUCCEED and rest[-1].output == b"done"


@pytest.mark.parametrize("fixture", ["conn", "plain_conn"])
def test_invoke(fixture: str, request: pytest.FixtureRequest) -> None:
    conn: flamepy.Connection = request.getfixturevalue(fixture)
    ssn = _session(conn)
    assert ssn.invoke(b"hello") == b"hello"
    assert ssn.invoke(memoryview(b"mv")) == b"mv"
    assert ssn.invoke(None) is None
    with pytest.raises(flamepy.FlameError, match="ValueError: bad input") as info:
        ssn.invoke(b"fail")
    assert info.value.code == flamepy.FlameErrorCode.INTERNAL
    with pytest.raises(flamepy.InvalidStateError, match="cancelled"):
        ssn.invoke(b"cancel")


def test_invoke_is_one_run_task(memory: MemoryTransport, conn: flamepy.Connection) -> None:
    _session(conn).invoke(b"x")
    assert memory.counters["run_task"] == 1
    assert memory.counters["create_task"] == 0


def test_closed_session_refuses_tasks(conn: flamepy.Connection) -> None:
    ssn = _session(conn)
    ssn.close()
    ssn.close()  # idempotent
    assert ssn.state == flamepy.SessionState.CLOSED
    with pytest.raises(flamepy.InvalidStateError, match="is not open"):
        ssn.create_task(b"x")
    with pytest.raises(flamepy.InvalidStateError):
        ssn.run(b"x")


def test_oversized_input_is_a_clear_error_before_any_rpc(
    memory: MemoryTransport, conn: flamepy.Connection
) -> None:
    ssn = _session(conn)
    with pytest.raises(flamepy.InvalidArgumentError, match=r"exceeds the \d+ byte limit.*object cache"):
        ssn.create_task(b"x" * (5 << 20))
    with pytest.raises(flamepy.InvalidArgumentError, match="object cache"):
        ssn.run(bytearray(5 << 20))
    assert memory.counters["create_task"] == 0


# -- many tasks: run() ------------------------------------------------------------------------------


def test_ten_thousand_futures_through_one_watch_stream(
    memory: MemoryTransport, conn: flamepy.Connection
) -> None:
    n = 10_000
    with _session(conn) as ssn:
        futures = [ssn.run(str(i).encode()) for i in range(n)]
        done, not_done = concurrent.futures.wait(futures, timeout=60)
        assert not not_done
        assert [f.result() for f in futures] == [str(i).encode() for i in range(n)]
    c = memory.counters
    assert c["watch_session"] == 1
    assert c["create_tasks_inputs"] == n
    assert c["create_tasks"] <= n // 10
    assert c["create_task"] == 0 and c["watch_task"] == 0


def test_run_results_failures_and_none(conn: flamepy.Connection) -> None:
    with _session(conn) as ssn:
        ok, none, failed, cancelled = (ssn.run(x) for x in (b"ok", None, b"fail", b"cancel"))
        assert ok.result(timeout=10) == b"ok"
        assert none.result(timeout=10) is None
        with pytest.raises(flamepy.FlameError, match="ValueError: bad input") as info:
            failed.result(timeout=10)
        assert info.value.code == flamepy.FlameErrorCode.INTERNAL
        with pytest.raises(flamepy.InvalidStateError):
            cancelled.result(timeout=10)


def test_completion_before_registration(memory: MemoryTransport, conn: flamepy.Connection) -> None:
    """The completions reach the watch before CreateTasks answers: the transport holds the answer
    until the watcher has seen them, so they arrive before the ids are registered."""
    ssn = _session(conn)
    stashed = threading.Event()
    real = dispatch_state.DispatchState.handle

    def on_completions(self, event):
        out = real(self, event)
        if self.early:
            stashed.set()
        return out

    def before_reply(ids: list[str]) -> None:
        assert stashed.wait(10), "the watcher never saw the completions"

    dispatch_state.DispatchState.handle = on_completions  # type: ignore[method-assign]
    memory.before_create_tasks_reply = before_reply
    try:
        futures = [ssn.run(b"early")]
        assert futures[0].result(timeout=10) == b"early"
    finally:
        dispatch_state.DispatchState.handle = real  # type: ignore[method-assign]
    assert memory.counters["get_task"] == 0  # resolved from the stashed completion
    ssn.close()


@pytest.mark.parametrize("n", [1, 300])
def test_run_watches_each_task_without_a_session_watch(
    plain: MemoryTransport, plain_conn: flamepy.Connection, n: int
) -> None:
    with _session(plain_conn) as ssn:
        futures = [ssn.run(str(i).encode()) for i in range(n)] + [ssn.run(b"fail")]
        assert [f.result(timeout=30) for f in futures[:-1]] == [str(i).encode() for i in range(n)]
        with pytest.raises(flamepy.FlameError, match="bad input"):
            futures[-1].result(timeout=10)
    c = plain.counters
    assert c["create_task"] == n + 1 and c["watch_task"] == n + 1
    assert c["create_tasks"] == 0 and c["watch_session"] == 0


def test_close_fails_pending_futures(memory: MemoryTransport, conn: flamepy.Connection) -> None:
    ssn = _session(conn)
    done = ssn.run(b"done")
    assert done.result(timeout=10) == b"done"
    pending = [ssn.run(b"pending") for _ in range(5)]
    ssn.close()
    for fut in pending:
        with pytest.raises(flamepy.InvalidStateError):
            fut.result(timeout=10)
    assert done.result() == b"done"
    with pytest.raises(flamepy.InvalidStateError):
        ssn.run(b"late")


def test_close_fails_futures_the_server_never_finishes(
    memory: MemoryTransport, conn: flamepy.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Running tasks the server lets finish: close() gives a short grace, then fails them."""
    monkeypatch.setattr(dispatch_mod, "CLOSE_GRACE_S", 0.05)
    ssn = _session(conn)
    futures = [ssn.run(b"pending") for _ in range(3)]
    with memory.cond:  # make them Running so closing does not cancel them
        assert memory.cond.wait_for(lambda: len(memory.tasks[ssn.id]) == 3, timeout=10)
        for tid in list(memory.tasks[ssn.id]):
            memory.set_state(ssn.id, tid, TaskState.RUNNING)
    ssn.close()
    for fut in futures:
        with pytest.raises(flamepy.InvalidStateError, match="closed"):
            fut.result(timeout=10)


@pytest.mark.parametrize("error", [flamepy.UnavailableError("lost"), flamepy.InternalError("boom")])
def test_watch_stream_loss_reconnects_and_reconciles(
    memory: MemoryTransport, conn: flamepy.Connection, error: flamepy.FlameError
) -> None:
    ssn = _session(conn)
    assert ssn.run(b"a").result(timeout=10) == b"a"
    pending = ssn.run(b"pending")
    with memory.cond:
        assert memory.cond.wait_for(lambda: "2" in memory.tasks[ssn.id], timeout=10)
    memory.break_watches(ssn.id, error)  # the stream fails ...
    memory.complete(ssn.id, "2", (TaskState.SUCCEED, b"late", None))  # ... and misses this completion
    assert pending.result(timeout=30) == b"late"  # found by reconciling after the reconnect
    assert ssn.run(b"b").result(timeout=10) == b"b"  # the new stream carries later completions
    assert memory.counters["watch_session"] == 2
    ssn.close()


def test_cancelled_future_is_skipped(conn: flamepy.Connection) -> None:
    with _session(conn) as ssn:
        futures = [ssn.run(b"x") for _ in range(3)]
        for fut in futures:
            fut.cancel()
        assert ssn.run(b"y").result(timeout=10) == b"y"


def test_run_blocks_when_the_queue_is_full(
    memory: MemoryTransport, conn: flamepy.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatch_mod, "QUEUE_LIMIT", 2)
    release = threading.Event()
    memory.before_create_tasks_reply = lambda ids: release.wait(10)
    ssn = _session(conn)
    first = ssn.run(b"0")  # taken by the submitter, which is held in CreateTasks
    with memory.cond:
        assert memory.cond.wait_for(lambda: bool(memory.tasks[ssn.id]), timeout=10)
    queued = [ssn.run(b"1"), ssn.run(b"2")]
    late: list[concurrent.futures.Future] = []
    blocked = threading.Thread(target=lambda: late.append(ssn.run(b"3")))
    blocked.start()
    blocked.join(timeout=0.2)
    assert blocked.is_alive(), "run() should wait while the client-side queue is full"
    release.set()
    blocked.join(timeout=10)
    assert [f.result(timeout=10) for f in [first, *queued, *late]] == [b"0", b"1", b"2", b"3"]
    ssn.close()


def test_failed_server_close_can_be_retried(memory: MemoryTransport, conn: flamepy.Connection) -> None:
    ssn = _session(conn)
    memory.fail["close_session"] = flamepy.UnavailableError("restarting")
    with pytest.raises(flamepy.UnavailableError):
        ssn.close()
    del memory.fail["close_session"]
    ssn.close()
    assert ssn.state == flamepy.SessionState.CLOSED


def test_connection_close_stops_session_threads(memory: MemoryTransport) -> None:
    conn = flamepy.Connection.over(memory)
    ssn = _session(conn)
    pending = ssn.run(b"pending")
    conn.close()
    with pytest.raises(flamepy.InvalidStateError, match="connection was closed"):
        pending.result(timeout=10)
    assert memory.sessions[ssn.id][1].state == flamepy.SessionState.OPEN  # not closed on the server


def test_server_without_early_watch_headers(memory: MemoryTransport, conn: flamepy.Connection) -> None:
    """Headers only with the first completion: the first batch waits briefly, tasks submitted before
    the stream is confirmed are reconciled, and later sessions do not wait."""
    memory.headers_early = False
    with _session(conn) as ssn:
        futures = [ssn.run(str(i).encode()) for i in range(100)]
        assert [f.result(timeout=10) for f in futures] == [str(i).encode() for i in range(100)]
    assert conn.watch_headers_early is False
    with _session(conn, "s2") as ssn:
        assert ssn.run(b"x").result(timeout=10) == b"x"


def test_a_task_watch_that_cannot_start_fails_only_its_future(
    plain: MemoryTransport, plain_conn: flamepy.Connection
) -> None:
    """Without a session watch each task is watched on its own: a refused watch fails that task."""
    with _session(plain_conn) as ssn:
        assert ssn.run(b"first").result(timeout=10) == b"first"
        plain.fail["watch_task"] = flamepy.UnavailableError("watch refused")
        with pytest.raises(flamepy.UnavailableError, match="watch refused"):
            ssn.run(b"second").result(timeout=10)
        del plain.fail["watch_task"]
        assert ssn.run(b"third").result(timeout=10) == b"third"
