"""Group commit: many submissions in one loop turn (or queued while the writer works) → one commit."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from flamepy.errors import UnavailableError
from flamepy.types import Application, ApplicationAttributes, SessionAttributes, SessionState, Task, TaskState
from session_manager import effects
from session_manager.persist import GroupCommitWriter, LoopCommitter
from session_manager.storage.memory import MemoryStorage
from session_manager.storage.sqlite import SqliteStorage


def app(name: str) -> effects.SaveApp:
    return effects.SaveApp(Application(name, ApplicationAttributes(command="c")))


@pytest.mark.parametrize("kind", [LoopCommitter, GroupCommitWriter])
def test_submissions_are_committed_and_grouped(kind) -> None:
    async def main() -> MemoryStorage:
        storage = MemoryStorage()
        writer = kind(storage, asyncio.get_running_loop())
        writer.start()
        futs = [writer.submit([app(f"a{i}")]) for i in range(50)]
        await asyncio.gather(*futs)
        assert len(storage.apps) == 50
        assert 1 <= storage.commits < 50  # grouped
        empty = writer.submit([])
        assert empty.done()
        writer.close()
        return storage

    asyncio.run(main())


@pytest.mark.parametrize("kind", [LoopCommitter, GroupCommitWriter])
def test_a_failed_commit_fails_every_waiter(kind) -> None:
    class Broken(MemoryStorage):
        def commit(self, records):
            raise OSError("disk full")

    async def main() -> None:
        writer = kind(Broken(), asyncio.get_running_loop())
        writer.start()
        futs = [writer.submit([app("x")]), writer.submit([app("y")])]
        results = await asyncio.gather(*futs, return_exceptions=True)
        # the cause reaches every waiter, mapped for the wire (UNAVAILABLE: not an out-of-space errno)
        assert all(isinstance(r, UnavailableError) and isinstance(r.__cause__, OSError) for r in results)
        writer.close()

    asyncio.run(main())


def test_sqlite_full_sync_survives_reopen(tmp_path) -> None:
    store = SqliteStorage(tmp_path, synchronous="full")
    store.commit([app("durable")])
    store.close()
    again = SqliteStorage(tmp_path)
    assert [a.name for a in again.load().apps] == ["durable"]
    again.close()
    with pytest.raises(ValueError, match="sync mode"):
        SqliteStorage(tmp_path, synchronous="sometimes")


def _task(tid: str, state, inp, out) -> Task:
    return Task(id=tid, session_id="s1", state=state, input=inp, output=out, creation_time=1, events=())


def test_sqlite_task_data_round_trips_none_empty_and_bytes(tmp_path) -> None:
    store = SqliteStorage(tmp_path)
    store.commit(
        [
            effects.SaveSession(
                "s1", SessionAttributes(application="a", id="s1"), SessionState.OPEN, 1, None, (), 1
            ),
            effects.InsertTask(_task("1", TaskState.PENDING, None, None)),
            effects.InsertTask(_task("2", TaskState.PENDING, b"", None)),
            effects.InsertTask(_task("3", TaskState.PENDING, b"in" * 1000, None)),
        ]
    )
    store.commit([effects.UpdateTask(_task("3", TaskState.SUCCEED, b"in" * 1000, b"out"))])
    store.commit([effects.UpdateTask(_task("2", TaskState.SUCCEED, b"", b""))])
    store.close()
    store = SqliteStorage(tmp_path)
    snap = store.load()  # unfinished tasks in full, finished ones counted
    assert [t.id for t in snap.tasks] == ["1"] and snap.finished["s1"][TaskState.SUCCEED] == 2
    tasks = {t.id: t for t in store.load_tasks("s1", 1, 3)}
    assert store.load_tasks("s1", 2, 2) == [tasks["2"]] and store.load_tasks("s1", 4, 9) == []
    assert (tasks["1"].input, tasks["1"].output) == (None, None)
    assert (tasks["2"].input, tasks["2"].output) == (b"", b"")
    assert (tasks["3"].input, tasks["3"].output, tasks["3"].state) == (
        b"in" * 1000,
        b"out",
        TaskState.SUCCEED,
    )


def test_sqlite_migrates_a_version_1_database(tmp_path) -> None:
    db = sqlite3.connect(tmp_path / "flame.db")
    db.executescript(
        """
        CREATE TABLE applications (name TEXT PRIMARY KEY, attrs TEXT NOT NULL, state INTEGER NOT NULL,
            creation_time INTEGER NOT NULL);
        CREATE TABLE sessions (id TEXT PRIMARY KEY, attrs TEXT NOT NULL, state INTEGER NOT NULL,
            creation_time INTEGER NOT NULL, completion_time INTEGER, events TEXT NOT NULL,
            next_task_id INTEGER NOT NULL);
        CREATE TABLE tasks (session_id TEXT NOT NULL, id INTEGER NOT NULL, state INTEGER NOT NULL,
            input BLOB, output BLOB, creation_time INTEGER NOT NULL, completion_time INTEGER,
            events TEXT NOT NULL, PRIMARY KEY (session_id, id)) WITHOUT ROWID;
        INSERT INTO tasks VALUES ('s1', 1, 2, X'6869', X'6f6b', 5, 6, '[]');
        INSERT INTO tasks VALUES ('s1', 2, 0, NULL, NULL, 7, NULL, '[]');
        """
    )
    db.close()
    store = SqliteStorage(tmp_path)
    tasks = {t.id: t for t in store.load_tasks("s1", 1, 2)}
    assert (tasks["1"].input, tasks["1"].output, tasks["1"].completion_time) == (b"hi", b"ok", 6)
    assert (tasks["2"].input, tasks["2"].output, tasks["2"].creation_time) == (None, None, 7)
    store.close()
    SqliteStorage(tmp_path).close()  # opening again is a no-op


def test_sqlite_refuses_a_newer_schema(tmp_path) -> None:
    SqliteStorage(tmp_path).close()
    db = sqlite3.connect(tmp_path / "flame.db")
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(RuntimeError, match="schema version 99"):
        SqliteStorage(tmp_path)


def test_sqlite_large_task_data_goes_to_files_and_back(tmp_path) -> None:
    from session_manager.storage.sqlite import BLOB_FILE_MIN

    big_in, big_out = b"i" * BLOB_FILE_MIN, b"o" * (3 * BLOB_FILE_MIN)
    store = SqliteStorage(tmp_path)
    store.commit(
        [
            effects.SaveSession(
                "s1", SessionAttributes(application="a", id="s1"), SessionState.OPEN, 1, None, (), 1
            ),
            effects.InsertTask(_task("1", TaskState.PENDING, big_in, None)),
        ]
    )
    store.commit([effects.UpdateTask(_task("1", TaskState.SUCCEED, big_in, big_out))])
    files = sorted(p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file())
    assert files == ["1.0", "1.1"]  # no temporaries left
    store.close()
    store = SqliteStorage(tmp_path)
    [task] = store.load_tasks("s1", 1, 1)
    assert (task.input, task.output) == (big_in, big_out)
    store.commit([effects.DeleteSession("s1")])
    assert not [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert store.load_tasks("s1", 1, 1) == [] and store.load().finished == {}


def test_sqlite_checkpoints_on_its_own_thread_and_stops_with_the_store(tmp_path) -> None:
    store = SqliteStorage(tmp_path)
    assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)  # no commit checkpoints
    store._checkpointer.ran.clear()
    store.commit(
        [
            effects.SaveSession(
                "s1", SessionAttributes(application="a", id="s1"), SessionState.OPEN, 1, None, (), 1
            )
        ]
    )
    assert store._checkpointer.ran.wait(10)
    # the database file itself (WAL ignored) has the row: the checkpoint copied it there
    ro = sqlite3.connect(f"file:{tmp_path / 'flame.db'}?immutable=1", uri=True)
    assert ro.execute("SELECT id FROM sessions").fetchall() == [("s1",)]
    ro.close()
    thread = store._checkpointer._thread
    assert thread.is_alive()
    store.close()
    assert not thread.is_alive()
