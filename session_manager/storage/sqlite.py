"""SQLite storage (WAL): the embedded default.

One connection, used only by the group-commit writer thread (and by ``load`` before it starts).
Every ``commit`` is one transaction. When it returns, the batch survives ``kill -9`` of the
process (synchronous=NORMAL, the default: the WAL frames are in the OS before COMMIT returns) and,
with synchronous=FULL, also power loss (one fsync per group commit, ~1 ms on a typical VM disk).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from flamepy.types import Application, ApplicationState, SessionState, Task, TaskState
from session_manager import effects
from session_manager.storage import Snapshot, codec

SCHEMA = """
CREATE TABLE IF NOT EXISTS applications (
    name TEXT PRIMARY KEY,
    attrs TEXT NOT NULL,
    state INTEGER NOT NULL,
    creation_time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    attrs TEXT NOT NULL,
    state INTEGER NOT NULL,
    creation_time INTEGER NOT NULL,
    completion_time INTEGER,
    events TEXT NOT NULL,
    next_task_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
    session_id TEXT NOT NULL,
    id INTEGER NOT NULL,
    state INTEGER NOT NULL,
    input BLOB,
    output BLOB,
    creation_time INTEGER NOT NULL,
    completion_time INTEGER,
    events TEXT NOT NULL,
    PRIMARY KEY (session_id, id)
) WITHOUT ROWID;
"""


class SqliteStorage:
    def __init__(self, data_dir: str | Path, synchronous: str = "normal") -> None:
        if synchronous.lower() not in ("normal", "full"):
            raise ValueError(f"invalid sqlite sync mode {synchronous!r}: use normal or full")
        path = Path(data_dir)
        path.mkdir(parents=True, exist_ok=True)
        self.path = path / "flame.db"
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        self._db.executescript(SCHEMA)

    def load(self) -> Snapshot:
        with self._lock:
            apps = [
                Application(name, codec.app_attrs_from_json(attrs), ApplicationState(state), ctime)
                for name, attrs, state, ctime in self._db.execute(
                    "SELECT name, attrs, state, creation_time FROM applications ORDER BY creation_time, name"
                )
            ]
            sessions = [
                effects.SaveSession(
                    id=sid,
                    attrs=codec.session_attrs_from_json(attrs),
                    state=SessionState(state),
                    creation_time=ctime,
                    completion_time=done,
                    events=codec.events_from_json(events),
                    next_task_id=next_id,
                )
                for sid, attrs, state, ctime, done, events, next_id in self._db.execute(
                    "SELECT id, attrs, state, creation_time, completion_time, events, next_task_id "
                    "FROM sessions"
                )
            ]
            tasks = [
                Task(
                    id=str(tid),
                    session_id=sid,
                    state=TaskState(state),
                    input=inp,
                    output=out,
                    creation_time=ctime,
                    completion_time=done,
                    events=codec.events_from_json(events),
                )
                for sid, tid, state, inp, out, ctime, done, events in self._db.execute(
                    "SELECT session_id, id, state, input, output, creation_time, completion_time, events "
                    "FROM tasks ORDER BY session_id, id"
                )
            ]
        return Snapshot(apps, sessions, tasks)

    def commit(self, records: list[effects.Record]) -> None:
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                for rec in records:
                    _apply(db, rec)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _apply(db: sqlite3.Connection, rec: effects.Record) -> None:
    match rec:
        case effects.SaveApp(app):
            db.execute(
                "INSERT OR REPLACE INTO applications VALUES (?, ?, ?, ?)",
                (app.name, codec.app_attrs_to_json(app.attributes), int(app.state), app.creation_time),
            )
        case effects.DeleteApp(name):
            db.execute("DELETE FROM applications WHERE name = ?", (name,))
        case effects.SaveSession():
            db.execute(
                "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    rec.id,
                    codec.session_attrs_to_json(rec.attrs),
                    int(rec.state),
                    rec.creation_time,
                    rec.completion_time,
                    codec.events_to_json(rec.events),
                    rec.next_task_id,
                ),
            )
        case effects.DeleteSession(sid):
            db.execute("DELETE FROM tasks WHERE session_id = ?", (sid,))
            db.execute("DELETE FROM sessions WHERE id = ?", (sid,))
        case effects.InsertTask(t):
            db.execute(
                "INSERT OR REPLACE INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    t.session_id,
                    int(t.id),
                    int(t.state),
                    t.input,
                    t.output,
                    t.creation_time,
                    t.completion_time,
                    codec.events_to_json(t.events),
                ),
            )
            _bump_next_id(db, t)
        case effects.UpdateTask(t):
            db.execute(
                "UPDATE tasks SET state = ?, output = ?, completion_time = ?, events = ? "
                "WHERE session_id = ? AND id = ?",
                (
                    int(t.state),
                    t.output,
                    t.completion_time,
                    codec.events_to_json(t.events),
                    t.session_id,
                    int(t.id),
                ),
            )


def _bump_next_id(db: sqlite3.Connection, t: Task) -> None:
    db.execute(
        "UPDATE sessions SET next_task_id = MAX(next_task_id, ?) WHERE id = ?",
        (int(t.id) + 1, t.session_id),
    )
