"""Cancelling tasks from the SDK on the in-memory transport: ``Session.cancel_task``,
``Future.cancel()`` of a submitted task, ``close(cancel_running=True)``."""

from __future__ import annotations

import concurrent.futures

import pytest

import flamepy
from flamepy._task_future import TaskFuture
from flamepy.transport.memory import MemoryTransport
from flamepy.types import TaskState
from tests.support import wait_until


@pytest.fixture
def memory() -> MemoryTransport:
    return MemoryTransport()


@pytest.fixture
def ssn(memory: MemoryTransport):
    conn = flamepy.Connection.over(memory)
    conn.register_application("app", flamepy.ApplicationAttributes(command="x"))
    session = conn.create_session(flamepy.SessionAttributes(application="app"))
    yield session
    conn.close()


def test_cancel_task_pending_running_finished_unknown(ssn, memory: MemoryTransport) -> None:
    pending = ssn.create_task(b"pending")
    assert ssn.cancel_task(pending.id, "not needed").state == TaskState.CANCELLED
    running = ssn.create_task(b"pending")
    memory.set_state(ssn.id, running.id, TaskState.RUNNING)
    cancelled = ssn.cancel_task(running.id)
    assert cancelled.state == TaskState.CANCELLED
    assert cancelled.events[-1].message == "cancelled by the client"
    assert ssn.cancel_task(running.id).events == cancelled.events  # idempotent
    done = ssn.create_task(b"ok")
    assert ssn.cancel_task(done.id).state == TaskState.SUCCEED  # finished: left as it is
    with pytest.raises(flamepy.NotFoundError):
        ssn.cancel_task("999")


def test_future_cancel_of_a_submitted_task_cancels_it_on_the_server(ssn, memory: MemoryTransport) -> None:
    fut = ssn.run(b"pending")
    assert isinstance(fut, TaskFuture)
    tid = wait_until(lambda: fut.task_id)
    assert fut.running() and fut.cancel() is True
    assert fut.cancelled()
    with pytest.raises(concurrent.futures.CancelledError):
        fut.result(timeout=5)
    assert memory.get_task(ssn.id, tid).state == TaskState.CANCELLED
    done = ssn.run(b"after")
    assert done.result(timeout=5) == b"after"  # later tasks still run
    assert done.cancel() is False  # finished


def test_close_with_cancel_running(ssn, memory: MemoryTransport) -> None:
    task = ssn.create_task(b"pending")
    memory.set_state(ssn.id, task.id, TaskState.RUNNING)
    ssn.close(cancel_running=True)
    assert memory.get_task(ssn.id, task.id).state == TaskState.CANCELLED


def test_a_cancelled_completion_arriving_during_cancel_still_reads_as_cancelled() -> None:
    """The Cancelled completion can resolve the future (as an error) while cancel()'s own request is
    in flight; cancel() then says True, and cancelled() must agree."""
    import concurrent.futures

    from flamepy.errors import InvalidStateError
    from flamepy.types import Task, TaskState

    fut: TaskFuture

    def cancel_task(tid: str) -> Task:
        fut.set_exception(InvalidStateError(f"task {tid} was cancelled"))  # the watch got there first
        return Task(id=tid, session_id="s", state=TaskState.CANCELLED)

    fut = TaskFuture(cancel_task)
    fut.set_running_or_notify_cancel()  # handed to the submitter
    fut.task_id = "1"
    assert fut.cancel() is True
    assert fut.cancelled()
    with pytest.raises(concurrent.futures.CancelledError):
        fut.result(timeout=0)
