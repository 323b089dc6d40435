"""Task rows of the SQLite storage, written in batches: the bulk of every commit.

A commit's records are mostly task inserts and updates (a created task, Running at dispatch, the
outcome), in runs of one kind. ``apply_records`` writes each such run with one ``executemany`` per
statement instead of one ``execute`` per record; other records go to ``apply_other`` one by one.
A run of updates right after a run of inserts is folded into them where it can be: an update of a
task inserted by that run changes the insert's row (state, completion time, events, run) instead of
rewriting it after, so a task created and dispatched in one commit costs one row write. The rows
written are those of applying the records one at a time.

Data of at most INLINE_MAX bytes (b"" included) is kept in the task's own row (``inline_input``,
``inline_output``): no task_data row, one B-tree and one statement less per commit for the usual
small task. A task's data is written once (its input with its insert, its output with Succeed), so a
value never moves between the row and task_data; writing None (or a task_data value) leaves the
column as it is, as writing None leaves task_data as it is.

No session row is written per task: a session's next task id is stored with the session
(``SaveSession``) and ``SqliteStorage.load`` raises it past the highest task id it finds.
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
INLINE_MAX = 1024

INSERT_TASK = (
    # an upsert, not OR REPLACE: a key taken by another task must fail, not delete that task
    "INSERT INTO tasks (session_id, id, state, creation_time, completion_time, events, run, idem_key, "
    "inline_input, inline_output) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (session_id, id) DO UPDATE "
    "SET state = excluded.state, completion_time = excluded.completion_time, "
    "events = excluded.events, run = excluded.run, idem_key = excluded.idem_key, "
    "inline_input = COALESCE(excluded.inline_input, inline_input), "
    "inline_output = COALESCE(excluded.inline_output, inline_output)"
)
UPDATE_TASK = (
    "UPDATE tasks SET state = ?, completion_time = ?, events = ?, run = ?, "
    "inline_output = COALESCE(?, inline_output) WHERE session_id = ? AND id = ?"
)
PUT_DATA = "INSERT OR REPLACE INTO task_data VALUES (?, ?, ?, ?, ?)"

ApplyOther = Callable[[sqlite3.Connection, BlobFiles, effects.Record], None]


def apply_records(
    db: sqlite3.Connection, blobs: BlobFiles, records: Sequence[effects.Record], apply_other: ApplyOther
) -> None:
    """Apply a commit's records in order, runs of task inserts or updates batched."""
    runs: list[tuple[type, list]] = [(kind, list(run)) for kind, run in groupby(records, type)]
    for i, (kind, recs) in enumerate(runs):
        if kind is effects.InsertTask:
            if i + 1 < len(runs) and runs[i + 1][0] is effects.UpdateTask:
                rest = _insert_tasks(db, blobs, recs, runs[i + 1][1])
                runs[i + 1] = (effects.UpdateTask, rest)
            else:
                _insert_tasks(db, blobs, recs, [])
        elif kind is effects.UpdateTask:
            if recs:
                _update_tasks(db, blobs, recs)
        else:
            for rec in recs:
                apply_other(db, blobs, rec)


def _insert_tasks(
    db: sqlite3.Connection,
    blobs: BlobFiles,
    recs: list[effects.InsertTask],
    updates: list[effects.UpdateTask],
) -> list[effects.UpdateTask]:
    """Insert ``recs``, folding in the ``updates`` (the run right after) of tasks they insert;
    returns the other updates, in order. Each row is built once, with its final values."""
    events_json = codec.events_to_json
    fold = _Fold(recs, updates, blobs)
    rows: list[tuple] = []
    data = []
    for i, rec in enumerate(recs):
        t, tid = rec.task, int(rec.task.id)
        inline_in, inline_out = _inline(t.input), _inline(t.output)
        for which, blob, inline in ((INPUT, t.input, inline_in), (OUTPUT, t.output, inline_out)):
            if blob is not None and inline is None:
                data.append(_data_row(blobs, t, which, blob))
        # a folded task's row holds what UPDATE_TASK would set after the insert (state,
        # completion time, events, run, output); the others', the insert's own values
        upd = fold.last.get(i)
        end = t if upd is None else upd.task
        run = None if upd is None or upd.run is None else codec.run_to_json(upd.run)
        row = (t.session_id, tid, int(end.state), t.creation_time, end.completion_time)
        rows.append((*row, events_json(end.events), run, rec.key, inline_in, fold.outputs.get(i, inline_out)))
    db.executemany(INSERT_TASK, rows)
    data += fold.data  # after the inserts' own data rows, as applied one by one
    if data:
        db.executemany(PUT_DATA, data)
    return fold.rest


class _Fold:
    """Which of a run of updates fold into which insert of the run before (by its index): an
    update goes into the last insert of its task; the task's last update gives the row its state,
    completion time, events and run, its latest small output the inline column; larger outputs
    become data rows, in order. ``rest``: the updates of tasks the run did not insert."""

    def __init__(self, recs: list[effects.InsertTask], updates: list[effects.UpdateTask], blobs: BlobFiles):
        at = {(r.task.session_id, int(r.task.id)): i for i, r in enumerate(recs)}
        self.last: dict[int, effects.UpdateTask] = {}
        self.outputs: dict[int, bytes] = {}
        self.data: list[tuple[str, int, int, bytes | None, str | None]] = []
        self.rest: list[effects.UpdateTask] = []
        for upd in updates:
            t = upd.task
            i = at.get((t.session_id, int(t.id)))
            if i is None:
                self.rest.append(upd)
                continue
            self.last[i] = upd
            if (out := _inline(t.output)) is not None:
                self.outputs[i] = out
            elif t.output is not None:
                self.data.append(_data_row(blobs, t, OUTPUT, t.output))


def _update_tasks(db: sqlite3.Connection, blobs: BlobFiles, recs: list[effects.UpdateTask]) -> None:
    events_json, run_json = codec.events_to_json, codec.run_to_json
    rows, data = [], []
    for rec in recs:
        t, run = rec.task, rec.run
        encoded = None if run is None else run_json(run)
        out = _inline(t.output)
        row = (int(t.state), t.completion_time, events_json(t.events), encoded, out)
        rows.append((*row, t.session_id, int(t.id)))
        if t.output is not None and out is None:  # set once, with Succeed: no earlier output to remove
            data.append(_data_row(blobs, t, OUTPUT, t.output))
    db.executemany(UPDATE_TASK, rows)
    if data:
        db.executemany(PUT_DATA, data)


def _inline(data: bytes | None) -> bytes | None:
    """The value for a task's inline column: data of at most INLINE_MAX bytes, else None."""
    return data if data is not None and len(data) <= INLINE_MAX else None


def _data_row(
    blobs: BlobFiles, t: Task, kind: int, data: bytes
) -> tuple[str, int, int, bytes | None, str | None]:
    """A task_data row; data of BLOB_FILE_MIN bytes or more is written to a file the row names."""
    sid, tid = t.session_id, int(t.id)
    if len(data) >= BLOB_FILE_MIN:
        return (sid, tid, kind, None, blobs.write(sid, tid, kind, data))
    return (sid, tid, kind, data, None)
