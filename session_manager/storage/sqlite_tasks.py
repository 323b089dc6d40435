"""Task rows of the SQLite storage, written in batches: the bulk of every commit.

A commit's records are mostly task inserts and updates (a created task, Running at dispatch, the
outcome), in runs of one kind. ``apply_records`` writes each such run with one ``executemany`` per
statement instead of one ``execute`` per record, and raises each touched session's next task id
once per run instead of once per task; other records go to ``apply_other`` one by one. The rows
written, and their order within each table, are those of applying the records one at a time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from itertools import groupby

from flamepy.types import Task
from session_manager import effects
from session_manager.storage import codec
from session_manager.storage.sqlite_files import BlobFiles

INPUT, OUTPUT = 0, 1
BLOB_FILE_MIN = 64 * 1024

INSERT_TASK = (
    # an upsert, not OR REPLACE: a key taken by another task must fail, not delete that task
    "INSERT INTO tasks VALUES (?, ?, ?, ?, ?, ?, NULL, ?) ON CONFLICT (session_id, id) DO UPDATE "
    "SET state = excluded.state, completion_time = excluded.completion_time, "
    "events = excluded.events, run = NULL, idem_key = excluded.idem_key"
)
UPDATE_TASK = (
    "UPDATE tasks SET state = ?, completion_time = ?, events = ?, run = ? WHERE session_id = ? AND id = ?"
)
PUT_DATA = "INSERT OR REPLACE INTO task_data VALUES (?, ?, ?, ?, ?)"
BUMP_NEXT_ID = "UPDATE sessions SET next_task_id = MAX(next_task_id, ?) WHERE id = ?"

ApplyOther = Callable[[sqlite3.Connection, BlobFiles, effects.Record], None]


def apply_records(
    db: sqlite3.Connection, blobs: BlobFiles, records: Sequence[effects.Record], apply_other: ApplyOther
) -> None:
    """Apply a commit's records in order, runs of task inserts or updates batched."""
    for kind, run in groupby(records, type):
        if kind is effects.InsertTask:
            _insert_tasks(db, blobs, list(run))  # type: ignore[arg-type]
        elif kind is effects.UpdateTask:
            _update_tasks(db, blobs, list(run))  # type: ignore[arg-type]
        else:
            for rec in run:
                apply_other(db, blobs, rec)


def _insert_tasks(db: sqlite3.Connection, blobs: BlobFiles, recs: list[effects.InsertTask]) -> None:
    events_json = codec.events_to_json
    rows, data = [], []
    next_ids: dict[str, int] = {}
    for rec in recs:
        t, tid = rec.task, int(rec.task.id)
        rows.append(
            (
                t.session_id,
                tid,
                int(t.state),
                t.creation_time,
                t.completion_time,
                events_json(t.events),
                rec.key,
            )
        )
        for which, blob in ((INPUT, t.input), (OUTPUT, t.output)):
            if blob is not None:
                data.append(_data_row(blobs, t, which, blob))
        if next_ids.get(t.session_id, 0) <= tid:
            next_ids[t.session_id] = tid + 1
    db.executemany(INSERT_TASK, rows)
    if data:
        db.executemany(PUT_DATA, data)
    db.executemany(BUMP_NEXT_ID, [(next_id, sid) for sid, next_id in next_ids.items()])


def _update_tasks(db: sqlite3.Connection, blobs: BlobFiles, recs: list[effects.UpdateTask]) -> None:
    events_json, run_json = codec.events_to_json, codec.run_to_json
    rows, data = [], []
    for rec in recs:
        t, run = rec.task, rec.run
        encoded = None if run is None else run_json(run)
        rows.append(
            (int(t.state), t.completion_time, events_json(t.events), encoded, t.session_id, int(t.id))
        )
        if t.output is not None:  # set once, with Succeed: no earlier output to remove
            data.append(_data_row(blobs, t, OUTPUT, t.output))
    db.executemany(UPDATE_TASK, rows)
    if data:
        db.executemany(PUT_DATA, data)


def _data_row(
    blobs: BlobFiles, t: Task, kind: int, data: bytes
) -> tuple[str, int, int, bytes | None, str | None]:
    """A task_data row; data of BLOB_FILE_MIN bytes or more is written to a file the row names."""
    sid, tid = t.session_id, int(t.id)
    if len(data) >= BLOB_FILE_MIN:
        return (sid, tid, kind, None, blobs.write(sid, tid, kind, data))
    return (sid, tid, kind, data, None)
