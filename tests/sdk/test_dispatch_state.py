"""DispatchState driven event by event: no threads, no network (handles are plain strings)."""

from __future__ import annotations

import pytest

from flamepy import dispatch_state as ds
from flamepy.errors import InternalError, InvalidStateError, NotFoundError, UnavailableError
from flamepy.transport.base import TaskWatchError
from flamepy.types import Task, TaskCompletion, TaskState


def ok(tid: str, out: bytes = b"out") -> TaskCompletion:
    return TaskCompletion(tid, TaskState.SUCCEED, out, None)


def submit(state: ds.DispatchState[str], ids: list[str], handles: list[str], err=None) -> list[ds.Decision]:
    ticket = state.begin_submit()
    return state.handle(ds.Submitted(ticket, ids, handles, err))


@pytest.fixture
def up() -> ds.DispatchState[str]:
    state: ds.DispatchState[str] = ds.DispatchState()
    assert state.handle(ds.StreamUp()) == []
    return state


def test_completion_resolves_the_handle_of_its_task(up: ds.DispatchState[str]) -> None:
    assert submit(up, ["1", "2"], ["a", "b"]) == []
    assert up.handle(ds.Completed([ok("2"), ok("99")])) == [ds.Resolve((("b", "2", ok("2")),))]
    assert up.outstanding == {"1": "a"} and not up.early  # 99 is nobody's: dropped
    assert up.handle(ds.Completed([ok("1")])) == [ds.Resolve((("a", "1", ok("1")),))]
    assert not up.has_work


def test_completion_before_the_ids_are_known_is_kept_for_the_batch(up: ds.DispatchState[str]) -> None:
    ticket = up.begin_submit()
    assert up.handle(ds.Completed([ok("1")])) == []
    assert up.early == {"1": ok("1")}
    assert up.handle(ds.Submitted(ticket, ["1", "2"], ["a", "b"])) == [ds.Resolve((("a", "1", ok("1")),))]
    assert up.outstanding == {"2": "b"} and not up.early


def test_failed_submit_fails_the_inputs_not_created(up: ds.DispatchState[str]) -> None:
    err = UnavailableError("down")
    assert submit(up, ["1"], ["a", "b", "c"], err) == [ds.Fail(("b", "c"), err)]
    assert up.outstanding == {"1": "a"}


def test_tasks_submitted_across_a_new_watch_are_reconciled() -> None:
    state: ds.DispatchState[str] = ds.DispatchState()
    ticket = state.begin_submit()  # no watch up yet
    assert state.handle(ds.StreamUp()) == []
    assert state.handle(ds.Submitted(ticket, ["1"], ["a"])) == [ds.Reconcile(("1",))]
    assert submit(state, ["2"], ["b"]) == []  # the watch was up all along


def test_stream_up_reconciles_what_is_outstanding(up: ds.DispatchState[str]) -> None:
    submit(up, ["1", "2"], ["a", "b"])
    lost_stream = UnavailableError("lost")
    assert up.handle(ds.StreamDown(lost_stream)) == [ds.Rewatch(ds.BACKOFF_MIN_S, False, lost_stream)]
    assert up.handle(ds.StreamUp()) == [ds.Reconcile(("1", "2"))]
    running = Task("2", "s", TaskState.RUNNING)
    done = Task("1", "s", TaskState.SUCCEED, output=b"x")
    assert up.handle(ds.Seen([running, done])) == [
        ds.Resolve((("a", "1", TaskCompletion("1", TaskState.SUCCEED, b"x", None)),))
    ]
    lost = NotFoundError("gone")
    assert up.handle(ds.Lost("2", lost)) == [ds.Fail(("b",), lost)]


def test_lost_stream_backs_off_and_resets_on_completions(up: ds.DispatchState[str]) -> None:
    submit(up, ["1"], ["a"])
    delays = []
    for _ in range(8):
        [decision] = up.handle(ds.StreamDown(UnavailableError("lost")))
        assert isinstance(decision, ds.Rewatch) and not decision.wait_for_work
        delays.append(decision.delay)
    assert delays[:3] == [ds.BACKOFF_MIN_S, 2 * ds.BACKOFF_MIN_S, 4 * ds.BACKOFF_MIN_S]
    assert delays[-1] == ds.BACKOFF_MAX_S
    up.handle(ds.StreamUp())
    up.handle(ds.Completed([ok("1")]))
    [decision] = up.handle(ds.StreamDown(UnavailableError("lost")))
    assert isinstance(decision, ds.Rewatch) and decision.delay == ds.BACKOFF_MIN_S


def test_ended_stream_reconciles_then_waits_for_work(up: ds.DispatchState[str]) -> None:
    submit(up, ["1"], ["a"])
    reconcile, rewatch = up.handle(ds.StreamDown(None))
    assert reconcile == ds.Reconcile(("1",), then_fail=None)
    assert isinstance(rewatch, ds.Rewatch) and rewatch.wait_for_work
    internal = InternalError("boom")
    assert up.handle(ds.StreamDown(internal))[0] == ds.Reconcile(("1",), then_fail=None)


@pytest.mark.parametrize("err", [InvalidStateError("session s is not open"), NotFoundError("no session s")])
def test_refused_watch_fails_what_reconciling_did_not_settle(up: ds.DispatchState[str], err) -> None:
    submit(up, ["1", "2"], ["a", "b"])
    reconcile, _ = up.handle(ds.StreamDown(err))
    assert reconcile == ds.Reconcile(("1", "2"), then_fail=err)
    up.handle(ds.Seen([Task("1", "s", TaskState.SUCCEED)]))
    assert up.handle(ds.GiveUp(err)) == [ds.Fail(("b",), err)]


def test_per_task_watch_tracks_every_task(up: ds.DispatchState[str]) -> None:
    state: ds.DispatchState[str] = ds.DispatchState()
    ticket = state.begin_submit()
    state.handle(ds.Submitted(ticket, ["1"], ["a"]))
    assert state.handle(ds.StreamUp(per_task=True)) == [ds.Track(("1",))]
    assert submit(state, ["2", "3"], ["b", "c"]) == [ds.Track(("2", "3"))]
    err = UnavailableError("watch broke")
    decisions = state.handle(ds.Completed([ok("2"), TaskWatchError("3", err)]))
    assert decisions == [ds.Resolve((("b", "2", ok("2")),)), ds.Fail(("c",), err)]


def test_stop_fails_the_queue_and_shutdown_the_rest(up: ds.DispatchState[str]) -> None:
    up.push(b"x", "queued")
    submit(up, ["1"], ["a"])
    [fail] = up.handle(ds.StopSubmitting("closed"))
    assert isinstance(fail, ds.Fail) and fail.handles == ("queued",)
    assert isinstance(fail.error, InvalidStateError)
    with pytest.raises(InvalidStateError):
        up.push(b"y", "late")
    assert up.handle(ds.StreamDown(None)) == [ds.StopWatching()]
    [fail] = up.handle(ds.Shutdown("closed"))
    assert fail.handles == ("a",) and fail.error.message == "closed"
    assert not up.outstanding
    # a per-task watch error after stopping fails nothing: shutdown owns the rest
    assert up.handle(ds.Completed([TaskWatchError("1", UnavailableError("x"))])) == []


def test_batches_are_capped_by_count_and_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    state: ds.DispatchState[str] = ds.DispatchState(queue_limit=3)
    for i in range(3):
        state.push(None, str(i))
    assert state.queue_full
    assert [h for _, h in state.take_batch()] == ["0", "1", "2"] and not state.queue_full
    monkeypatch.setattr(ds, "BATCH_LIMIT", 2)
    monkeypatch.setattr(ds, "BATCH_BYTES", 10)
    for i, data in enumerate([b"x", b"y", b"z"]):
        state.push(data, str(i))
    assert [h for _, h in state.take_batch()] == ["0", "1"]
    state.push(b"0123456789", "big")
    assert [h for _, h in state.take_batch()] == ["2"]  # z + big would be 11 bytes
    assert [h for _, h in state.take_batch()] == ["big"]
    assert state.take_batch() == []
