"""The run() dispatcher's retry decisions, event by event (no threads, no network; time is given).

Which errors are retryable is :func:`flamepy.transport.retry.retryable`'s decision alone.
"""

from __future__ import annotations

import pytest

from flamepy import dispatch_state as ds
from flamepy.errors import (
    FlameError,
    InternalError,
    InvalidArgumentError,
    InvalidStateError,
    NotFoundError,
    TaskTimeoutError,
    UnavailableError,
)
from flamepy.transport import retry
from flamepy.types import TaskCompletion, TaskState

DEADLINE = 60.0
DOWN = UnavailableError("create 3 tasks in session 's1': connection refused (unavailable)")


def ok(tid: str, out: bytes = b"out") -> TaskCompletion:
    return TaskCompletion(tid, TaskState.SUCCEED, out, None)


@pytest.fixture
def up() -> ds.DispatchState[str]:
    state: ds.DispatchState[str] = ds.DispatchState(retry_deadline=DEADLINE, key_prefix="n-")
    assert state.handle(ds.StreamUp()) == []
    return state


def answer(
    state: ds.DispatchState[str],
    ticket: ds.SubmitTicket,
    ids: list[str],
    handles: list[str],
    err: FlameError | None,
    now: float,
    keys: list[str] | None,
) -> list[ds.Decision]:
    inputs = [h.encode() for h in handles]
    return state.handle(ds.Submitted(ticket, ids, handles, err, inputs, keys, now))


def test_keys_are_unique_and_cheap(up: ds.DispatchState[str]) -> None:
    assert up.new_keys(3) == ["n-1", "n-2", "n-3"]
    assert up.new_keys(2) == ["n-4", "n-5"]
    assert ds.DispatchState[str]().new_keys(2) is None  # keys off (a plain flame.v1 server / retry off)


def test_keyed_batch_that_failed_retryably_is_resubmitted_with_the_same_keys(
    up: ds.DispatchState[str],
) -> None:
    keys = up.new_keys(3)
    assert keys is not None
    ticket = up.begin_submit()
    [decision] = answer(up, ticket, ["1"], ["a", "b", "c"], DOWN, now=100.0, keys=keys)
    assert decision == ds.Resubmit(
        (b"b", b"c"), ("b", "c"), ("n-2", "n-3"), retry.BACKOFF_MIN_S, ds.SubmitTicket(1, 100.0, 1)
    )
    assert up.outstanding == {"1": "a"}
    assert up.submitting == 1  # still being submitted: early completions are kept for it
    assert up.handle(ds.Completed([ok("2")])) == []
    assert up.early == {"2": ok("2")}

    # the resubmitted batch fails again: a longer wait, the same first-failure time
    again = up.begin_submit(decision.ticket)
    [second] = answer(up, again, [], ["b", "c"], DOWN, now=100.05, keys=["n-2", "n-3"])
    assert isinstance(second, ds.Resubmit)
    assert second.delay == 2 * retry.BACKOFF_MIN_S and second.ticket.since == 100.0

    # the server is back: the same keys give the ids; the early completion resolves its future
    third = up.begin_submit(second.ticket)
    decisions = answer(up, third, ["2", "3"], ["b", "c"], None, now=101.0, keys=["n-2", "n-3"])
    assert decisions == [ds.Resolve((("b", "2", ok("2")),))]
    assert up.outstanding == {"1": "a", "3": "c"} and up.submitting == 0 and not up.early


def test_resubmit_stops_at_the_deadline_with_an_error_that_says_the_tasks_may_run(
    up: ds.DispatchState[str],
) -> None:
    keys = up.new_keys(2)
    [first] = answer(up, up.begin_submit(), [], ["a", "b"], DOWN, now=0.0, keys=keys)
    assert isinstance(first, ds.Resubmit)
    t = up.begin_submit(first.ticket)
    [late] = answer(up, t, [], ["a", "b"], DOWN, now=DEADLINE - 0.01, keys=keys)
    assert isinstance(late, ds.Resubmit) and late.delay == pytest.approx(0.01)  # capped by the deadline
    [gone] = answer(up, up.begin_submit(late.ticket), [], ["a", "b"], DOWN, now=DEADLINE, keys=keys)
    assert isinstance(gone, ds.Fail) and gone.handles == ("a", "b")
    assert isinstance(gone.error, UnavailableError)
    assert "unreachable for 60 s" in gone.error.message and "may still run" in gone.error.message
    assert gone.error.__cause__ is DOWN
    assert up.submitting == 0


@pytest.mark.parametrize(
    "err",
    [
        InvalidArgumentError("create 2 tasks: input too large"),
        NotFoundError("session s1 not found"),
        InvalidStateError("session s1 is not open"),
        InternalError("boom"),
        TaskTimeoutError("the caller's own deadline"),
    ],
)
def test_non_retryable_errors_fail_at_once(up: ds.DispatchState[str], err: FlameError) -> None:
    keys = up.new_keys(2)
    assert answer(up, up.begin_submit(), [], ["a", "b"], err, now=0.0, keys=keys) == [
        ds.Fail(("a", "b"), err)
    ]


def test_unkeyed_batch_is_not_resubmitted(up: ds.DispatchState[str]) -> None:
    """A plain flame.v1 server takes no keys: repeating CreateTask could create a task twice."""
    assert answer(up, up.begin_submit(), ["1"], ["a", "b"], DOWN, now=0.0, keys=None) == [
        ds.Fail(("b",), DOWN)
    ]


def test_retry_off_fails_at_once() -> None:
    state: ds.DispatchState[str] = ds.DispatchState(retry_deadline=0.0, key_prefix="n-")
    assert answer(state, state.begin_submit(), [], ["a"], DOWN, now=0.0, keys=["n-1"]) == [
        ds.Fail(("a",), DOWN)
    ]


def test_no_resubmit_once_stopping(up: ds.DispatchState[str]) -> None:
    ticket = up.begin_submit()
    up.handle(ds.StopSubmitting("closed"))
    assert answer(up, ticket, [], ["a"], DOWN, now=0.0, keys=["n-1"]) == [ds.Fail(("a",), DOWN)]


def test_watch_down_past_the_deadline_fails_the_outstanding_once(up: ds.DispatchState[str]) -> None:
    assert answer(up, up.begin_submit(), ["1", "2"], ["a", "b"], None, now=0.0, keys=["n-1", "n-2"]) == []
    [rewatch] = up.handle(ds.StreamDown(DOWN, now=10.0))
    assert isinstance(rewatch, ds.Rewatch)
    assert up.handle(ds.StreamDown(DOWN, now=10.0 + DEADLINE - 0.1)) == [
        ds.Rewatch(2 * retry.BACKOFF_MIN_S, False, DOWN)
    ]
    fail, again = up.handle(ds.StreamDown(DOWN, now=10.0 + DEADLINE))
    assert isinstance(fail, ds.Fail) and set(fail.handles) == {"a", "b"}
    assert "unreachable for 60 s" in fail.error.message and "may still run" in fail.error.message
    assert isinstance(again, ds.Rewatch) and not up.outstanding
    # a late completion of a failed task resolves nothing (no future is resolved twice)
    assert up.handle(ds.Completed([ok("1")])) == []


def test_watch_back_in_time_resets_the_deadline_and_reconciles(up: ds.DispatchState[str]) -> None:
    answer(up, up.begin_submit(), ["1"], ["a"], None, now=0.0, keys=["n-1"])
    up.handle(ds.StreamDown(DOWN, now=0.0))
    assert up.handle(ds.StreamUp()) == [ds.Reconcile(("1",))]  # completions during the outage
    up.handle(ds.StreamDown(DOWN, now=DEADLINE + 1))  # a new outage: a new deadline
    assert up.handle(ds.StreamDown(DOWN, now=DEADLINE + 2))[0].__class__ is ds.Rewatch
    assert up.outstanding == {"1": "a"}
    # reconciling: the server no longer knows the task -> it fails, once
    lost = NotFoundError("task 1 of session 's1' is unknown to the session manager")
    assert up.handle(ds.Lost("1", lost)) == [ds.Fail(("a",), lost)]
    assert up.handle(ds.Lost("1", lost)) == []


def test_watch_deadline_is_off_with_retry_off() -> None:
    state: ds.DispatchState[str] = ds.DispatchState()
    state.handle(ds.StreamUp())
    ticket = state.begin_submit()
    state.handle(ds.Submitted(ticket, ["1"], ["a"]))
    state.handle(ds.StreamDown(DOWN, now=0.0))
    [decision] = state.handle(ds.StreamDown(DOWN, now=10_000.0))
    assert isinstance(decision, ds.Rewatch) and state.outstanding == {"1": "a"}


def test_the_one_retryable_decision() -> None:
    assert retry.retryable(UnavailableError("x"))
    assert not retry.retryable(TaskTimeoutError("x"))
    for err in (InvalidArgumentError("x"), NotFoundError("x"), InvalidStateError("x"), InternalError("x")):
        assert not retry.retryable(err)


def test_retry_record_backs_off_until_the_deadline() -> None:
    r = retry.Retry(1.0)
    assert r.next_delay(DOWN, 5.0) == retry.BACKOFF_MIN_S
    assert r.next_delay(DOWN, 5.1) == 2 * retry.BACKOFF_MIN_S
    assert r.next_delay(DOWN, 5.95) == pytest.approx(0.05)
    assert r.next_delay(DOWN, 6.0) is None and r.waited(6.0) == 1.0
    r.progressed()
    assert r.next_delay(DOWN, 100.0) == retry.BACKOFF_MIN_S  # a new failure: a new deadline
    assert retry.Retry(0.0).next_delay(DOWN, 0.0) is None
    assert retry.Retry(1.0).next_delay(NotFoundError("x"), 0.0) is None
    assert retry.backoff(100) == retry.BACKOFF_MAX_S
