"""Storage faults fail closed, driven without a network: a storage wrapper makes chosen commits
raise (``database or disk is full``, ``ENOSPC``, ``EIO``), in the manner of SQLite's own
fault-injection tests. A failed commit answers RESOURCE_EXHAUSTED / UNAVAILABLE with its cause;
nothing of it reaches a node or a watcher; memory is re-synced from disk; a result whose commit
failed is not lost (the task runs again, with event 1003)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from flamepy.errors import FlameError, ResourceExhaustedError, UnavailableError
from flamepy.types import (
    ApplicationAttributes,
    ResourceRequirement,
    SessionAttributes,
    SessionState,
    Shim,
    Task,
    TaskState,
)
from session_manager import effects, events
from session_manager.broker import Broker
from session_manager.config import ServerConfig
from session_manager.core.state import REQUEUED
from session_manager.links import NodeLink
from session_manager.storage.base import Snapshot, Storage
from session_manager.storage.memory import MemoryStorage
from session_manager.storage.sqlite import SqliteStorage

DISK_FULL = sqlite3.OperationalError("database or disk is full")
FAULTS = {
    "sqlite-full": (DISK_FULL, ResourceExhaustedError),
    "enospc": (OSError(errno.ENOSPC, "No space left on device"), ResourceExhaustedError),
    "eio": (OSError(errno.EIO, "Input/output error"), UnavailableError),
}


class FaultyStorage:
    """Wraps a real store; ``fail(exc, when)`` makes the next commits whose records match ``when``
    raise ``exc`` (nothing of them stored) until ``heal()``; ``load`` can be broken too."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.error: BaseException | None = None
        self.when: Callable[[list[effects.Record]], bool] = lambda records: True
        self.failed: list[list[effects.Record]] = []
        self.load_error: BaseException | None = None

    def fail(self, exc: BaseException, when: Callable[[list[effects.Record]], bool] | None = None) -> None:
        self.error, self.when = exc, when or (lambda records: True)

    def heal(self) -> None:
        self.error = None

    def load(self) -> Snapshot:
        if self.load_error is not None:
            raise self.load_error
        return self.inner.load()

    def load_tasks(self, session_id: str, first: int, last: int):  # type: ignore[no-untyped-def]
        return self.inner.load_tasks(session_id, first, last)

    def load_run(self, session_id: str, task_id: int):  # type: ignore[no-untyped-def]
        return self.inner.load_run(session_id, task_id)

    def commit(self, records: list[effects.Record]) -> None:
        if self.error is not None and self.when(records):
            self.failed.append(records)
            raise self.error
        self.inner.commit(records)

    def close(self) -> None:
        self.inner.close()


def _inserts(records: list[effects.Record]) -> bool:
    return any(isinstance(r, effects.InsertTask) for r in records)


def _terminal(records: list[effects.Record]) -> bool:
    return any(isinstance(r, effects.UpdateTask) and r.task.state.is_terminal for r in records)


async def _started(store: FaultyStorage, sync: str = "normal") -> tuple[Broker, list]:
    kind = "memory" if isinstance(store.inner, MemoryStorage) else "sqlite"
    broker = Broker(ServerConfig(storage=kind, sync=sync), store)  # type: ignore[arg-type]
    published: list = []
    real_publish = broker._watchers.publish
    broker._watchers.publish = lambda out: (published.append(out), real_publish(out))  # type: ignore[method-assign]
    broker.on_fatal = lambda: published.append("fatal")
    await broker.start()
    await broker.register_application("echo", ApplicationAttributes(command="python"))
    await broker.create_session(SessionAttributes(application="echo", id="s"))
    return broker, published


def _node(broker: Broker, name: str = "n1") -> NodeLink:
    return broker.attach_node(events.NodeRegistered(name, ResourceRequirement(2, 1 << 30, 0), (Shim.HOST,)))


async def _next(link: NodeLink, kind: type) -> effects.Command:
    while True:
        batch = await asyncio.wait_for(link.next_batch(), 5)
        assert batch is not None, f"the stream closed before a {kind.__name__}"
        found = [c for c in batch if isinstance(c, kind)]
        if found:
            return found[0]


async def _running(broker: Broker, link: NodeLink) -> effects.InvokeCmd:
    """Bind the executor the scheduler asks for; the first task it is sent."""
    bind = await _next(link, effects.BindCmd)
    assert isinstance(bind, effects.BindCmd)
    broker.node_event(events.ExecutorBound(link.name, bind.executor_id))
    invoke = await _next(link, effects.InvokeCmd)
    assert isinstance(invoke, effects.InvokeCmd)
    return invoke


def _queued(link: NodeLink) -> tuple[list[effects.Command], bool]:
    """What is in the link's queue now, and whether it was closed."""
    commands, closed = [], False
    while not link.queue.empty():
        cmd = link.queue.get_nowait()
        if cmd is None:
            closed = True
        else:
            commands.append(cmd)
    return commands, closed


async def _durable(broker: Broker) -> None:
    """Everything submitted so far (the re-sync's own records too) is committed or failed (an empty
    submission behind a failed batch of its epoch fails with it)."""
    with contextlib.suppress(FlameError):
        await broker._flush()


async def _memory_equals_disk(broker: Broker, store: FaultyStorage) -> None:
    await _durable(broker)  # the re-sync's own records (a new epoch) are committed too
    snap = store.inner.load()
    stored = {t.id: (t.state, len(t.events)) for t in store.inner.load_tasks("s", 1, 10_000)}
    listed = {t.id: (t.state, len(t.events)) for t in broker.list_tasks("s")}
    assert listed == stored
    assert broker.get_session("s").status.state == next(s.state for s in snap.sessions if s.id == "s")


def _stores(tmp_path: Path) -> dict[str, Callable[[], FaultyStorage]]:
    return {
        "memory": lambda: FaultyStorage(MemoryStorage()),
        "sqlite": lambda: FaultyStorage(SqliteStorage(tmp_path)),
    }


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize(("kind", "sync"), [("memory", "normal"), ("sqlite", "normal"), ("sqlite", "full")])
def test_failed_create_tasks_answer_with_the_cause_and_nothing_runs(
    fault: str, kind: str, sync: str, tmp_path: Path
) -> None:
    exc, expected = FAULTS[fault]

    async def scenario() -> None:
        store = _stores(tmp_path)[kind]()
        broker, published = await _started(store, sync)
        link = _node(broker)
        await broker.create_task("s", b"first")
        first = await _running(broker, link)
        broker.node_event(
            events.TaskResults("n1", (events.TaskOutcome(first.executor_id, "s", "1", 0, b"ok"),))
        )
        await _durable(broker)
        before = len(published)
        store.fail(exc, _inserts)
        with pytest.raises(expected) as raised:
            await broker.create_tasks("s", [b"a", b"b", b"c"])
        assert str(exc) in raised.value.message and raised.value.__cause__ is exc
        with pytest.raises(expected):
            await broker.create_task("s", b"d")
        await _durable(broker)
        commands, closed = _queued(link)
        assert not any(isinstance(c, effects.InvokeCmd) and c.task_id != "1" for c in commands)
        assert closed  # re-synced: the node registers again
        assert all(t.id == "1" for out in published[before:] for t in out.tasks_changed)
        await _memory_equals_disk(broker, store)
        assert [t.id for t in broker.list_tasks("s")] == ["1"]
        store.heal()  # space again: the next task is accepted, stored and run
        broker.detach_node(link)
        link = _node(broker)
        task = await broker.create_task("s", b"e")
        invoke = await _running(broker, link)
        assert invoke.task_id == task.id
        await _memory_equals_disk(broker, store)
        await broker.close()

    asyncio.run(scenario())


@pytest.mark.parametrize(("kind", "sync"), [("memory", "normal"), ("sqlite", "full")])
def test_a_result_whose_commit_failed_is_not_announced_and_the_task_runs_again(
    kind: str, sync: str, tmp_path: Path
) -> None:
    async def scenario() -> None:
        store = _stores(tmp_path)[kind]()
        broker, published = await _started(store, sync)
        link = _node(broker)
        run = asyncio.create_task(broker.run_task("s", b"x"))
        invoke = await _running(broker, link)
        before = len(published)
        store.fail(DISK_FULL, _terminal)
        outcome = events.TaskOutcome(invoke.executor_id, "s", invoke.task_id, 0, b"X", attempt=invoke.attempt)
        broker.node_event(events.TaskResults("n1", (outcome,)))
        await _durable(broker)  # the result's commit (not awaited by the node) has failed by now
        assert store.failed
        _commands, closed = await asyncio.wait_for(_closed(link), 5)
        assert closed
        assert not any(t.state.is_terminal for out in published[before:] for t in out.tasks_changed)
        assert not run.done()
        task = broker.get_task("s", invoke.task_id)
        assert task.state == TaskState.PENDING and task.events[-1].code == REQUEUED
        await _memory_equals_disk(broker, store)
        store.heal()
        broker.detach_node(link)
        link = _node(broker)
        again = await _running(broker, link)
        assert (again.task_id, again.attempt) == (invoke.task_id, invoke.attempt + 1)
        outcome = events.TaskOutcome(again.executor_id, "s", again.task_id, 0, b"X", attempt=again.attempt)
        broker.node_event(events.TaskResults("n1", (outcome,)))
        final = await asyncio.wait_for(run, 5)  # the caller waiting all along gets the outcome
        assert (final.state, final.output) == (TaskState.SUCCEED, b"X")
        assert any(e.code == REQUEUED for e in final.events)
        await _memory_equals_disk(broker, store)
        await broker.close()

    asyncio.run(scenario())


async def _closed(link: NodeLink) -> tuple[list[effects.Command], bool]:
    while True:
        batch = await link.next_batch()
        if batch is None:
            return [], True


def test_storage_unreadable_after_a_failed_commit_stops_the_process() -> None:
    async def scenario() -> None:
        store = FaultyStorage(MemoryStorage())
        broker, published = await _started(store)
        store.fail(OSError(errno.EIO, "Input/output error"))
        store.load_error = OSError(errno.EIO, "Input/output error")
        with pytest.raises(UnavailableError):
            await broker.create_task("s", b"a")
        assert published[-1] == "fatal"

    asyncio.run(scenario())


def test_sqlite_rolls_back_a_failed_commit_and_stays_usable(tmp_path: Path, monkeypatch) -> None:
    from session_manager.storage import sqlite_files

    store = SqliteStorage(tmp_path)
    ses = effects.SaveSession("s", SessionAttributes("echo", "s"), SessionState.OPEN, 1, None, (), 1)
    store.commit([ses])

    def full(*args: object) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sqlite_files.BlobFiles, "write", full)
    big = effects.InsertTask(_task("1", b"x" * (128 << 10)))
    with pytest.raises(OSError):
        store.commit([effects.InsertTask(_task("2", b"small")), big])
    monkeypatch.undo()
    store.commit([effects.InsertTask(_task("3", b"later"))])
    assert [t.id for t in store.load().tasks] == ["3"]
    store.close()


def _task(tid: str, data: bytes) -> Task:
    return Task(tid, "s", TaskState.PENDING, creation_time=1, input=data)


def test_error_messages_name_the_cause() -> None:
    from session_manager.storage.errors import storage_error

    err = storage_error(DISK_FULL)
    assert isinstance(err, ResourceExhaustedError) and "database or disk is full" in err.message
    err = storage_error(OSError(errno.EROFS, "Read-only file system"))
    assert type(err) is UnavailableError and "Read-only file system" in err.message
    assert isinstance(err, FlameError)
