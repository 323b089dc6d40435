"""Schema version 6 of the SQLite storage: task_data WITHOUT ROWID (a version 5 database is migrated,
every row kept), small task data in the task's row (inline_input, inline_output: added to a migrated
tasks table), no per-task write of sessions.next_task_id (``load`` raises it past the highest stored
task id), and a task's Running update folded into its insert when both are in one commit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from flamepy.types import TaskState
from session_manager import effects
from session_manager.storage import codec
from session_manager.storage.sqlite import INLINE_MAX, SCHEMA, SqliteStorage
from session_manager.storage.sqlite_files import BlobFiles
from tests.session_manager.test_sqlite_batches import BIG, RUN, session, task

V5_TASK_DATA = "PRIMARY KEY (session_id, id, kind)\n);"
MEDIUM = b"m" * (INLINE_MAX + 1)  # in task_data, not in a file


def _v5_schema() -> str:
    v6_task_data = "PRIMARY KEY (session_id, id, kind)\n) WITHOUT ROWID;"
    v6_columns = "    inline_input BLOB,\n    inline_output BLOB,\n"
    assert SCHEMA.count(v6_task_data) == 1 and SCHEMA.count(v6_columns) == 1
    return SCHEMA.replace(v6_task_data, V5_TASK_DATA).replace(v6_columns, "")


def _build_v5(path: Path) -> dict[tuple[int, int], bytes]:
    """A version 5 database with a session, tasks 1 to 4 and their data (inline and in files), its
    sessions.next_task_id left at 2 as a version 5 store could hold it; returns the data rows."""
    blobs = BlobFiles(path / "blobs", fsync=False)
    data = {(1, 0): b"in-1", (1, 1): b"out-1", (2, 0): BIG, (3, 0): b"", (3, 1): b"o" * (2 * len(BIG))}
    db = sqlite3.connect(path / "flame.db")
    db.executescript(_v5_schema())
    s = session("s1")
    db.execute(
        "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?)",
        ("s1", codec.session_attrs_to_json(s.attrs), int(s.state), 1, None, "[]", 2),
    )
    states = {1: TaskState.SUCCEED, 2: TaskState.RUNNING, 3: TaskState.FAILED, 4: TaskState.PENDING}
    for tid, state in states.items():
        events = codec.events_to_json(task("s1", tid, state).events)
        run = codec.run_to_json(RUN) if state == TaskState.RUNNING else None
        db.execute(
            "INSERT INTO tasks VALUES ('s1', ?, ?, 1, NULL, ?, ?, NULL)", (tid, int(state), events, run)
        )
    for (tid, kind), blob in data.items():
        if len(blob) >= len(BIG):
            row = (tid, kind, None, blobs.write("s1", tid, kind, blob))
        else:
            row = (tid, kind, blob, None)
        db.execute("INSERT INTO task_data VALUES ('s1', ?, ?, ?, ?)", row)
    db.execute("PRAGMA user_version = 5")
    db.commit()
    db.close()
    return data


def _table_sql(path: Path, name: str) -> str:
    db = sqlite3.connect(path / "flame.db")
    (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
    db.close()
    return sql


def test_a_version_5_database_is_migrated_with_every_row(tmp_path: Path) -> None:
    data = _build_v5(tmp_path)
    assert "WITHOUT ROWID" not in _table_sql(tmp_path, "task_data")
    assert "inline_input" not in _table_sql(tmp_path, "tasks")
    store = SqliteStorage(tmp_path)
    tasks = {int(t.id): t for t in store.load_tasks("s1", 1, 9)}
    assert sorted(tasks) == [1, 2, 3, 4]
    for tid, t in tasks.items():
        assert (t.input, t.output) == (data.get((tid, 0)), data.get((tid, 1)))
        assert t.events == task("s1", tid, t.state).events
    assert [tasks[i].state for i in (1, 2, 3, 4)] == [
        TaskState.SUCCEED,
        TaskState.RUNNING,
        TaskState.FAILED,
        TaskState.PENDING,
    ]
    snap = store.load()
    assert snap.runs == {("s1", 2): RUN} and [s.next_task_id for s in snap.sessions] == [5]
    store.close()
    db = sqlite3.connect(tmp_path / "flame.db")
    assert db.execute("PRAGMA user_version").fetchone() == (6,)
    names = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    assert "task_data_v5" not in names and db.execute("SELECT COUNT(*) FROM task_data").fetchone() == (5,)
    db.close()
    assert "WITHOUT ROWID" in _table_sql(tmp_path, "task_data")
    assert "inline_input BLOB, inline_output BLOB" in _table_sql(tmp_path, "tasks")
    before = _dump(tmp_path)
    SqliteStorage(tmp_path).close()  # a version 6 database opens unchanged
    assert _dump(tmp_path) == before


def test_next_task_id_after_reload_follows_the_highest_stored_task(tmp_path: Path) -> None:
    store = SqliteStorage(tmp_path)
    store.commit([session("s1"), session("s2", next_id=10)])
    store.commit([effects.InsertTask(task("s1", i, TaskState.PENDING)) for i in (1, 2)])
    store.commit(
        [
            effects.InsertTask(task("s1", 3, TaskState.PENDING)),
            effects.InsertTask(task("s2", 4, TaskState.PENDING)),
        ]
    )
    store.commit([effects.UpdateTask(task("s1", 3, TaskState.SUCCEED, out=b"x"), RUN)])  # finished
    store.close()
    db = sqlite3.connect(tmp_path / "flame.db")
    assert dict(db.execute("SELECT id, next_task_id FROM sessions")) == {"s1": 1, "s2": 10}  # stale
    db.close()
    snap = SqliteStorage(tmp_path).load()
    assert {s.id: s.next_task_id for s in snap.sessions} == {"s1": 4, "s2": 10}


def _dump(path: Path) -> dict[str, list[tuple]]:
    db = sqlite3.connect(path / "flame.db")
    rows = {
        table: db.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()
        for table in ("sessions", "tasks", "task_data")
    }
    rows["schema"] = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    rows["version"] = db.execute("PRAGMA user_version").fetchall()
    db.close()
    files = sorted(
        (p.relative_to(path).as_posix(), p.read_bytes()) for p in path.rglob("blobs/**/*") if p.is_file()
    )
    return {**rows, "files": files}


def _mixed_batch() -> tuple[list[effects.Record], list[effects.Record]]:
    """Records committed before, and a batch mixing folded and unfolded updates."""
    before: list[effects.Record] = [
        session("s1"),
        effects.InsertTask(task("s1", 1, TaskState.PENDING), "k-1"),
        effects.InsertTask(task("s1", 2, TaskState.PENDING, BIG)),
        effects.InsertTask(task("s1", 7, TaskState.PENDING, MEDIUM)),
        effects.InsertTask(task("s1", 8, TaskState.PENDING, b"in-8")),
    ]
    done = effects.TaskRun(1, None, None, 0, (), "n-1")
    batch: list[effects.Record] = [
        effects.InsertTask(task("s1", 3, TaskState.PENDING), "k-3"),
        effects.InsertTask(task("s1", 4, TaskState.PENDING, BIG)),
        effects.InsertTask(task("s1", 2, TaskState.PENDING, None)),  # again: the upsert's path
        effects.InsertTask(task("s1", 5, TaskState.PENDING, None, out=b"early")),
        effects.InsertTask(task("s1", 6, TaskState.PENDING)),
        effects.InsertTask(task("s1", 8, TaskState.PENDING, None)),  # again, None: keeps its input
        effects.UpdateTask(task("s1", 1, TaskState.RUNNING), RUN),  # inserted before: not folded
        effects.UpdateTask(task("s1", 3, TaskState.RUNNING), RUN),
        effects.UpdateTask(task("s1", 4, TaskState.RUNNING), RUN),
        effects.UpdateTask(task("s1", 2, TaskState.RUNNING), RUN),
        effects.UpdateTask(task("s1", 3, TaskState.SUCCEED, out=BIG + b"3"), done),  # Running, then its end
        effects.UpdateTask(task("s1", 5, TaskState.SUCCEED, out=b"late"), None),
        effects.UpdateTask(task("s1", 4, TaskState.SUCCEED, out=MEDIUM), done),
        effects.UpdateTask(task("s1", 9, TaskState.RUNNING), RUN),  # no such task: a no-op
        session("s2"),
        effects.UpdateTask(task("s1", 6, TaskState.RUNNING), RUN),  # not right after its insert
        effects.UpdateTask(task("s1", 1, TaskState.SUCCEED, out=b"one"), done),  # inline, not folded
        effects.InsertTask(task("s2", 1, TaskState.PENDING), "k-1"),
        effects.UpdateTask(task("s2", 1, TaskState.FAILED, out=b"err"), done),
    ]
    return before, batch


def test_a_folded_commit_writes_the_rows_of_one_record_per_commit(tmp_path: Path) -> None:
    before, batch = _mixed_batch()
    folded, one_by_one = SqliteStorage(tmp_path / "a"), SqliteStorage(tmp_path / "b")
    for store in (folded, one_by_one):
        store.commit(before)
    statements: list[str] = []
    folded._db.set_trace_callback(statements.append)
    folded.commit(batch)
    folded._db.set_trace_callback(None)
    for rec in batch:
        one_by_one.commit([rec])
    data = {t.id: (t.input, t.output) for t in folded.load_tasks("s1", 1, 9)}
    assert data == {
        "1": (b"", b"one"),
        "2": (BIG, None),
        "3": (b"", BIG + b"3"),
        "4": (BIG, MEDIUM),
        "5": (None, b"late"),
        "6": (b"", None),
        "7": (MEDIUM, None),
        "8": (b"in-8", None),  # inserted again with None: its input kept
    }
    folded.close()
    one_by_one.close()
    assert _dump(tmp_path / "a") == _dump(tmp_path / "b")
    updates = [s for s in statements if s.startswith("UPDATE tasks")]
    assert len(updates) == 4  # tasks 1 (twice) and 9 (not inserted here), 6 (apart from its insert)
    assert not [s for s in statements if s.startswith("UPDATE sessions")]


def test_a_failed_folded_commit_leaves_nothing(tmp_path: Path) -> None:
    store = SqliteStorage(tmp_path)
    store.commit([session("s1"), effects.InsertTask(task("s1", 1, TaskState.PENDING), "k")])
    before = _dump(tmp_path)
    with pytest.raises(sqlite3.IntegrityError):
        store.commit(
            [
                effects.InsertTask(task("s1", 2, TaskState.PENDING), "other"),
                effects.InsertTask(task("s1", 3, TaskState.PENDING), "k"),  # taken by task 1
                effects.UpdateTask(task("s1", 2, TaskState.RUNNING), RUN),
            ]
        )
    store.close()
    after = _dump(tmp_path)
    assert {k: v for k, v in after.items() if k != "files"} == {
        k: v for k, v in before.items() if k != "files"
    }
