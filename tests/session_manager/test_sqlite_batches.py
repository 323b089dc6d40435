"""Task records are written in batches (``storage/sqlite_tasks``): what a reopened store reads back
is what applying them one at a time gave (rows, data, next task ids, runs, keys)."""

from __future__ import annotations

import sqlite3

import pytest

from flamepy.types import Event, SessionAttributes, SessionState, Task, TaskState
from session_manager import effects
from session_manager.storage.sqlite import BLOB_FILE_MIN, SqliteStorage

BIG = b"x" * BLOB_FILE_MIN


def session(sid: str, next_id: int = 1) -> effects.SaveSession:
    return effects.SaveSession(
        sid, SessionAttributes(application="a"), SessionState.OPEN, 1, None, (), next_id
    )


def task(sid: str, tid: int, state: TaskState, data: bytes | None = b"", out: bytes | None = None) -> Task:
    events = tuple(Event(int(s), f"to {s.name}", 10 + i) for i, s in enumerate(TaskState) if s <= state)
    return Task(
        id=str(tid),
        session_id=sid,
        state=state,
        input=data,
        output=out,
        creation_time=1,
        completion_time=None,
        events=events,
    )


RUN = effects.TaskRun(1, "e-1", "n-1", 0, ("e-1",), "n-1")


def test_a_mixed_batch_reads_back_as_applied_one_by_one(tmp_path) -> None:
    store = SqliteStorage(tmp_path)
    store.commit([session("s1"), session("s2", next_id=7)])
    store.commit(
        [
            effects.InsertTask(task("s1", 1, TaskState.PENDING), "k-1"),
            effects.InsertTask(task("s1", 2, TaskState.PENDING, BIG)),
            effects.InsertTask(task("s2", 7, TaskState.PENDING, None)),
            effects.InsertTask(task("s1", 3, TaskState.PENDING), "k-3"),
            effects.UpdateTask(task("s1", 1, TaskState.RUNNING), RUN),
            effects.UpdateTask(task("s1", 2, TaskState.RUNNING), RUN),
            effects.UpdateTask(task("s1", 1, TaskState.SUCCEED, out=BIG), RUN),  # Running, then its end
            session("s3"),
            effects.InsertTask(task("s3", 1, TaskState.PENDING)),
        ]
    )
    store.close()
    snap = SqliteStorage(tmp_path).load()
    next_ids = {s.id: s.next_task_id for s in snap.sessions}
    assert next_ids == {"s1": 4, "s2": 8, "s3": 2}
    unfinished = {(t.session_id, t.id): t for t in snap.tasks}
    assert set(unfinished) == {("s1", "2"), ("s1", "3"), ("s2", "7"), ("s3", "1")}
    assert unfinished["s1", "2"].state == TaskState.RUNNING and unfinished["s1", "2"].input == BIG
    assert unfinished["s1", "2"].events == task("s1", 2, TaskState.RUNNING).events
    assert unfinished["s2", "7"].input is None and unfinished["s1", "3"].input == b""
    assert snap.runs == {("s1", 2): RUN}
    assert snap.keys == {"s1": {"k-1": 1, "k-3": 3}}
    assert snap.finished["s1"][TaskState.SUCCEED] == 1
    done = SqliteStorage(tmp_path).load_tasks("s1", 1, 1)
    assert done[0].state == TaskState.SUCCEED and done[0].output == BIG


def test_a_batch_whose_key_is_taken_rolls_back_whole(tmp_path) -> None:
    store = SqliteStorage(tmp_path)
    store.commit([session("s1"), effects.InsertTask(task("s1", 1, TaskState.PENDING), "k")])
    with pytest.raises(sqlite3.IntegrityError):
        store.commit(
            [
                effects.InsertTask(task("s1", 2, TaskState.PENDING), "other"),
                effects.InsertTask(task("s1", 3, TaskState.PENDING), "k"),  # taken by task 1
            ]
        )
    snap = store.load()
    assert [t.id for t in snap.tasks] == ["1"] and snap.sessions[0].next_task_id == 2
    assert snap.keys == {"s1": {"k": 1}}
