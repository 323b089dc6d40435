"""Storage of re-runs and idempotency keys: Running persisted with its attempt, executor and node;
keys unique per session; a version 2 SQLite database migrates to the current version."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from flamepy.types import Event, SessionAttributes, SessionState, Task, TaskState
from session_manager import effects
from session_manager.storage.memory import MemoryStorage
from session_manager.storage.sqlite import SCHEMA_VERSION, SqliteStorage

SESSION = effects.SaveSession("s", SessionAttributes("echo", "s"), SessionState.OPEN, 1, None, (), 1)
RUN = effects.TaskRun(2, "n1-ab", "n1", 1, ("attempt 1: node n1 lost",))


def batch() -> list[effects.Record]:
    pending = Task(
        "1", "s", TaskState.PENDING, creation_time=5, input=b"in", events=(Event(0, "task created", 5),)
    )
    running = Task(
        "1", "s", TaskState.RUNNING, creation_time=5, input=b"in", events=(Event(1, "running", 6),)
    )
    other = Task("2", "s", TaskState.SUCCEED, creation_time=5, input=b"in2", output=b"out", completion_time=7)
    return [
        SESSION,
        effects.InsertTask(pending, "key-1"),
        effects.InsertTask(Task("2", "s", TaskState.PENDING, creation_time=5, input=b"in2"), None),
        effects.UpdateTask(running, RUN),
        effects.UpdateTask(other, effects.TaskRun(1, None, None, 0, ())),
    ]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_running_is_stored_with_its_run_and_keys_come_back(kind: str, tmp_path: Path) -> None:
    store = MemoryStorage() if kind == "memory" else SqliteStorage(tmp_path)
    store.commit(batch())
    if kind == "sqlite":
        store.close()
        store = SqliteStorage(tmp_path)
    snap = store.load()
    assert [(t.id, t.state) for t in snap.tasks] == [("1", TaskState.RUNNING)]
    assert snap.runs == {("s", 1): RUN}
    assert snap.keys == {"s": {"key-1": 1}}
    store.close()


def test_sqlite_keys_are_unique_per_session(tmp_path: Path) -> None:
    store = SqliteStorage(tmp_path)
    store.commit([SESSION, effects.InsertTask(Task("1", "s", TaskState.PENDING, creation_time=5), "k")])
    with pytest.raises(sqlite3.IntegrityError):
        store.commit([effects.InsertTask(Task("2", "s", TaskState.PENDING, creation_time=5), "k")])
    store.close()


def test_sqlite_migrates_a_version_2_database(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "flame.db")
    db.executescript(
        """
        CREATE TABLE applications (name TEXT PRIMARY KEY, attrs TEXT NOT NULL, state INTEGER NOT NULL,
            creation_time INTEGER NOT NULL);
        CREATE TABLE sessions (id TEXT PRIMARY KEY, attrs TEXT NOT NULL, state INTEGER NOT NULL,
            creation_time INTEGER NOT NULL, completion_time INTEGER, events TEXT NOT NULL,
            next_task_id INTEGER NOT NULL);
        CREATE TABLE tasks (session_id TEXT NOT NULL, id INTEGER NOT NULL, state INTEGER NOT NULL,
            creation_time INTEGER NOT NULL, completion_time INTEGER, events TEXT NOT NULL,
            PRIMARY KEY (session_id, id)) WITHOUT ROWID;
        CREATE TABLE task_data (session_id TEXT NOT NULL, id INTEGER NOT NULL, kind INTEGER NOT NULL,
            data BLOB, file TEXT, PRIMARY KEY (session_id, id, kind));
        INSERT INTO tasks VALUES ('s1', 1, 2, 5, 6, '[]');
        INSERT INTO tasks VALUES ('s1', 2, 0, 7, NULL, '[]');
        INSERT INTO task_data VALUES ('s1', 1, 0, X'6869', NULL);
        PRAGMA user_version = 2;
        """
    )
    db.close()
    store = SqliteStorage(tmp_path)
    tasks = {t.id: t for t in store.load_tasks("s1", 1, 2)}
    assert (tasks["1"].input, tasks["1"].state) == (b"hi", TaskState.SUCCEED)
    assert tasks["2"].state == TaskState.PENDING
    snap = store.load()
    assert snap.runs == {} and snap.keys == {}
    running = Task("2", "s1", TaskState.RUNNING, creation_time=7)
    store.commit(
        [
            effects.InsertTask(Task("3", "s1", TaskState.PENDING, creation_time=8), "k"),
            effects.UpdateTask(running, RUN),
        ]
    )
    store.close()
    db = sqlite3.connect(tmp_path / "flame.db")
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (6,)
    (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'task_data'").fetchone()
    assert sql.endswith("WITHOUT ROWID")  # rebuilt, its rows kept (task 1's input above)
    db.close()
    snap = SqliteStorage(tmp_path).load()
    assert snap.runs == {("s1", 2): RUN} and snap.keys == {"s1": {"k": 3}}


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_retry_policies_are_stored_and_go_with_their_session(kind: str, tmp_path: Path) -> None:
    store = MemoryStorage() if kind == "memory" else SqliteStorage(tmp_path)
    policy = effects.RetryPolicy(5, True)
    store.commit([SESSION, effects.SaveRetryPolicy("session", "s", policy)])
    store.commit([effects.SaveRetryPolicy("application", "echo", effects.RetryPolicy(1, False))])
    assert store.load().policies == {
        ("session", "s"): policy,
        ("application", "echo"): effects.RetryPolicy(1),
    }
    store.commit([effects.DeleteSession("s"), effects.DeleteApp("echo")])
    assert store.load().policies == {}
    store.close()
