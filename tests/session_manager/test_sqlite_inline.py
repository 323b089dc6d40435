"""Small task data (at most INLINE_MAX bytes, b"" included) is kept in the task's own row
(tasks.inline_input, inline_output) with no task_data row; larger data goes to task_data, and from
BLOB_FILE_MIN bytes to a file. Every size reads back as written, whichever way it was written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from flamepy.types import TaskState
from session_manager import effects
from session_manager.storage.sqlite import BLOB_FILE_MIN, INLINE_MAX, SqliteStorage
from tests.session_manager.test_sqlite_batches import RUN, session, task

SIZES = {
    "none": None,
    "empty": b"",
    "one": b"a",
    "inline_max": b"b" * INLINE_MAX,
    "over_inline": b"c" * (INLINE_MAX + 1),
    "file": b"d" * BLOB_FILE_MIN,
}
DONE = effects.TaskRun(1, None, None, 0, (), "n-1")


def _commit_tasks(store: SqliteStorage, v: bytes | None) -> None:
    """Tasks 1, 2 and 5 left unfinished, 3 and 4 finished; each has input v, all but 2 output v."""
    store.commit([session("s1")])
    # 1: inserted with its output (as a re-insert can be)
    store.commit([effects.InsertTask(task("s1", 1, TaskState.PENDING, v, out=v))])
    # 2: Running folded into its insert; 3: its Succeed too
    store.commit(
        [
            effects.InsertTask(task("s1", 2, TaskState.PENDING, v)),
            effects.InsertTask(task("s1", 3, TaskState.PENDING, v)),
            effects.UpdateTask(task("s1", 2, TaskState.RUNNING, v), RUN),
            effects.UpdateTask(task("s1", 3, TaskState.RUNNING, v), RUN),
            effects.UpdateTask(task("s1", 3, TaskState.SUCCEED, v, out=v), DONE),
        ]
    )
    # 4 and 5: updated in commits of their own
    store.commit([effects.InsertTask(task("s1", i, TaskState.PENDING, v)) for i in (4, 5)])
    store.commit([effects.UpdateTask(task("s1", i, TaskState.RUNNING, v), RUN) for i in (4, 5)])
    store.commit([effects.UpdateTask(task("s1", 4, TaskState.SUCCEED, v, out=v), DONE)])
    store.commit([effects.UpdateTask(task("s1", 5, TaskState.RUNNING, v, out=v), RUN)])


@pytest.mark.parametrize("size", list(SIZES))
def test_task_data_of_every_size_reads_back(tmp_path: Path, size: str) -> None:
    v = SIZES[size]
    store = SqliteStorage(tmp_path)
    _commit_tasks(store, v)
    store.close()
    store = SqliteStorage(tmp_path)
    unfinished = {t.id: (t.input, t.output) for t in store.load().tasks}
    assert unfinished == {"1": (v, v), "2": (v, None), "5": (v, v)}
    tasks = {t.id: t for t in store.load_tasks("s1", 1, 9)}
    assert {i: (t.input, t.output) for i, t in tasks.items()} == {
        "1": (v, v),
        "2": (v, None),
        "3": (v, v),
        "4": (v, v),
        "5": (v, v),
    }
    assert [tasks[i].state for i in ("3", "4")] == [TaskState.SUCCEED] * 2
    store.close()
    db = sqlite3.connect(tmp_path / "flame.db")
    inline = db.execute("SELECT id, inline_input, inline_output FROM tasks ORDER BY id").fetchall()
    rows = db.execute("SELECT COUNT(*), COUNT(data), COUNT(file) FROM task_data").fetchone()
    db.close()
    small = v is not None and len(v) <= INLINE_MAX
    expected_inline = v if small else None
    out = [expected_inline if tid != 2 else None for tid in range(1, 6)]
    assert inline == [(tid, expected_inline, out[tid - 1]) for tid in range(1, 6)]
    if v is None or small:
        assert rows == (0, 0, 0)  # no task_data row at all
    elif len(v) < BLOB_FILE_MIN:
        assert rows == (9, 9, 0)  # 5 inputs and 4 outputs
    else:
        assert rows == (9, 0, 9)


def test_a_small_task_writes_only_its_row(tmp_path: Path) -> None:
    store = SqliteStorage(tmp_path)
    store.commit([session("s1")])
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    store.commit(
        [
            effects.InsertTask(task("s1", 1, TaskState.PENDING, b"i" * 200)),
            effects.UpdateTask(task("s1", 1, TaskState.RUNNING, b"i" * 200), RUN),
        ]
    )
    store.commit([effects.UpdateTask(task("s1", 1, TaskState.SUCCEED, b"i" * 200, out=b""), DONE)])
    store._db.set_trace_callback(None)
    writes = [s for s in statements if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert len(writes) == 2 and not [s for s in writes if "task_data" in s]  # the insert, the update
    (t,) = store.load_tasks("s1", 1, 1)
    assert (t.input, t.output, t.state) == (b"i" * 200, b"", TaskState.SUCCEED)
    store.close()


def test_empty_data_stays_distinct_from_none(tmp_path: Path) -> None:
    store = SqliteStorage(tmp_path)
    store.commit(
        [
            session("s1"),
            effects.InsertTask(task("s1", 1, TaskState.PENDING, b"")),
            effects.InsertTask(task("s1", 2, TaskState.PENDING, None)),
        ]
    )
    store.commit([effects.UpdateTask(task("s1", i, TaskState.SUCCEED, out=b""), DONE) for i in (1, 2)])
    store.commit([effects.UpdateTask(task("s1", 1, TaskState.SUCCEED, out=None), DONE)])  # leaves b""
    tasks = {t.id: (t.input, t.output) for t in store.load_tasks("s1", 1, 2)}
    assert tasks == {"1": (b"", b""), "2": (None, b"")}
    db = store._db
    lengths = db.execute("SELECT id, typeof(inline_input), typeof(inline_output) FROM tasks ORDER BY id")
    assert lengths.fetchall() == [(1, "blob", "blob"), (2, "null", "blob")]
    store.close()
