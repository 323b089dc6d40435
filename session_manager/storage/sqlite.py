"""SQLite storage (WAL): the embedded default.

One connection, used only by the group-commit writer thread (and by ``load`` before it starts).
Every ``commit`` is one transaction; one that fails (disk full, I/O error, read-only file system)
is rolled back and raises, and the connection stays usable. The data directory is 0700 and the
database, its WAL and SHM and the data files 0600 (``sqlite_files.owner_only_*``). When a commit
returns, the batch survives ``kill -9`` of the process (synchronous=NORMAL, the default: the WAL
frames are in the OS before COMMIT returns) and, with synchronous=FULL, also power loss (one fsync
per group commit, ~1 ms on a typical VM disk).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from pathlib import Path

from flamepy.types import Application, ApplicationState, SessionState, Task, TaskState
from session_manager import effects
from session_manager.storage import codec
from session_manager.storage.base import Snapshot
from session_manager.storage.sqlite_files import BlobFiles, Checkpointer, owner_only_dir, owner_only_file
from session_manager.storage.sqlite_tasks import BLOB_FILE_MIN, INLINE_MAX, INPUT, OUTPUT, apply_records

__all__ = ["BLOB_FILE_MIN", "INLINE_MAX", "SCHEMA_VERSION", "SqliteStorage"]

log = logging.getLogger(__name__)

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
    creation_time INTEGER NOT NULL,
    completion_time INTEGER,
    events TEXT NOT NULL,
    run TEXT,
    idem_key TEXT,
    inline_input BLOB,
    inline_output BLOB,
    PRIMARY KEY (session_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS tasks_idem_key ON tasks (session_id, idem_key)
    WHERE idem_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS retry_policies (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    max_retries INTEGER NOT NULL,
    retry_on_error INTEGER NOT NULL,
    task_timeout_s REAL,
    PRIMARY KEY (kind, name)
);
CREATE TABLE IF NOT EXISTS session_placements (
    session_id TEXT PRIMARY KEY,
    spread INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS task_data (
    session_id TEXT NOT NULL,
    id INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    data BLOB,
    file TEXT,
    PRIMARY KEY (session_id, id, kind)
) WITHOUT ROWID;
"""
# Task inputs and outputs of more than INLINE_MAX (1 KiB) bytes live in task_data (a row only when
# not None), apart from the small rows that change state: SQLite rewrites a whole row on UPDATE (a
# 1 MiB input rewritten with every state change cost ~24 ms per task). Smaller ones (b"" included,
# a zero-length blob, not NULL) are kept in the task's row, tasks.inline_input and inline_output:
# one row written per task record instead of two. Data of BLOB_FILE_MIN bytes or more goes to a file under
# <data_dir>/blobs (written and renamed into place before the row naming it commits); the WAL would
# otherwise write it twice, page by page (~6 ms per MiB here against ~1 ms for the file).
# Version 3 added tasks.run (JSON: attempt, executor, node, retries charged, history; set once the
# task was dispatched, so Running is persisted), tasks.idem_key (the client's idempotency key) and
# the retry_policies table (of applications and sessions). Version 4 added
# retry_policies.task_timeout_s (seconds; NULL: no limit). Version 5 added the session_placements
# table (a row per session with a placement constraint: spread = 1, at most one executor per node);
# a version 4 database gets it, empty, from SCHEMA's CREATE TABLE IF NOT EXISTS. Version 6 made
# task_data a WITHOUT ROWID table (its key was an index beside the rowid table: two B-trees, two
# pages written per data row), stopped raising sessions.next_task_id with every task insert (``load``
# takes the highest stored task id of each session into account instead) and added
# tasks.inline_input and inline_output (a migrated database's task_data rows stay where they are:
# reads fall back to them when the column is NULL).
SCHEMA_VERSION = 6

# Version 1 kept input and output as columns of tasks: its table is renamed to tasks_v1 before SCHEMA
# creates the new ones, then these move its rows over.
MIGRATE_FROM_1 = """
INSERT INTO tasks (session_id, id, state, creation_time, completion_time, events)
    SELECT session_id, id, state, creation_time, completion_time, events FROM tasks_v1;
INSERT INTO task_data SELECT session_id, id, 0, input, NULL FROM tasks_v1 WHERE input IS NOT NULL;
INSERT INTO task_data SELECT session_id, id, 1, output, NULL FROM tasks_v1 WHERE output IS NOT NULL;
DROP TABLE tasks_v1;
"""
# Version 2 lacked the run and idem_key columns of tasks: added before SCHEMA runs (its index
# needs idem_key).
MIGRATE_FROM_2 = """
ALTER TABLE tasks ADD COLUMN run TEXT;
ALTER TABLE tasks ADD COLUMN idem_key TEXT;
"""
# Versions 2 to 5 lacked the inline data columns of tasks (added after MIGRATE_FROM_2's: the
# columns of a migrated tasks table come in SCHEMA's order).
MIGRATE_TASKS_INLINE = """
ALTER TABLE tasks ADD COLUMN inline_input BLOB;
ALTER TABLE tasks ADD COLUMN inline_output BLOB;
"""
# Version 3 lacked retry_policies.task_timeout_s.
MIGRATE_FROM_3 = """
ALTER TABLE retry_policies ADD COLUMN task_timeout_s REAL;
"""
# Versions 2 to 5 kept task_data as a rowid table: renamed to task_data_v5 before SCHEMA creates
# the WITHOUT ROWID one, then these move its rows over.
MIGRATE_FROM_5 = """
INSERT INTO task_data SELECT session_id, id, kind, data, file FROM task_data_v5;
DROP TABLE task_data_v5;
"""


class SqliteStorage:
    def __init__(self, data_dir: str | Path, synchronous: str = "normal") -> None:
        if synchronous.lower() not in ("normal", "full"):
            raise ValueError(f"invalid sqlite sync mode {synchronous!r}: use normal or full")
        path = Path(data_dir)
        owner_only_dir(path)
        self.path = path / "flame.db"
        owner_only_file(self.path)  # SQLite gives the WAL and SHM the database file's mode
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._reader: sqlite3.Connection | None = None
        self._blobs = BlobFiles(path / "blobs", fsync=synchronous.lower() == "full")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        # Checkpoints (WAL -> database file, with fsyncs) run on a thread of their own instead of
        # inside whichever commit crosses the WAL size limit: no commit waits for one.
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._migrate()
        for side in ("-wal", "-shm"):
            if (extra := self.path.with_name(self.path.name + side)).exists():
                owner_only_file(extra)
        if self._blobs.root.exists():
            owner_only_dir(self._blobs.root)
        self._checkpointer = Checkpointer(self.path)

    def _migrate(self) -> None:
        db = self._db
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} has schema version {version}, newer than this session manager's "
                f"{SCHEMA_VERSION}: upgrade flamepy or use another data directory"
            )
        columns = {row[1] for row in db.execute("PRAGMA table_info(tasks)")}
        db.execute("BEGIN IMMEDIATE")
        version_1 = "input" in columns
        version_2 = bool(columns) and not version_1 and "run" not in columns
        no_inline_columns = bool(columns) and not version_1 and "inline_input" not in columns
        policy_columns = {row[1] for row in db.execute("PRAGMA table_info(retry_policies)")}
        version_3 = bool(policy_columns) and "task_timeout_s" not in policy_columns
        data_sql = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'task_data'")
        version_5 = any("WITHOUT ROWID" not in sql.upper() for (sql,) in data_sql)
        try:
            if version_1:
                db.execute("ALTER TABLE tasks RENAME TO tasks_v1")
            if version_5:
                db.execute("ALTER TABLE task_data RENAME TO task_data_v5")
            script = MIGRATE_FROM_2 if version_2 else ""
            script += MIGRATE_TASKS_INLINE if no_inline_columns else ""
            script += MIGRATE_FROM_3 if version_3 else ""
            script += SCHEMA + (MIGRATE_FROM_1 if version_1 else "") + (MIGRATE_FROM_5 if version_5 else "")
            for statement in script.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def load(self) -> Snapshot:
        with self._lock:
            apps = [
                Application(name, codec.app_attrs_from_json(attrs), ApplicationState(state), ctime)
                for name, attrs, state, ctime in self._db.execute(
                    "SELECT name, attrs, state, creation_time FROM applications ORDER BY creation_time, name"
                )
            ]
            finished, last_ids = _task_counts(self._db)
            sessions = [
                effects.SaveSession(
                    id=sid,
                    attrs=codec.session_attrs_from_json(attrs),
                    state=SessionState(state),
                    creation_time=ctime,
                    completion_time=done,
                    events=codec.events_from_json(events),
                    next_task_id=max(next_id, last_ids.get(sid, 0) + 1),
                )
                for sid, attrs, state, ctime, done, events, next_id in self._db.execute(
                    "SELECT id, attrs, state, creation_time, completion_time, events, next_task_id "
                    "FROM sessions"
                )
            ]
            unfinished = f"state < {int(TaskState.SUCCEED)}"
            tasks = _select_tasks(self._db, self._blobs, "t." + unfinished, ())
            runs = {
                (sid, tid): codec.run_from_json(run)
                for sid, tid, run in self._db.execute(
                    f"SELECT session_id, id, run FROM tasks WHERE {unfinished} AND run IS NOT NULL"
                )
            }
            keys: dict[str, dict[str, int]] = {}
            for sid, key, tid in self._db.execute(
                "SELECT session_id, idem_key, id FROM tasks WHERE idem_key IS NOT NULL"
            ):
                keys.setdefault(sid, {})[key] = tid
            policies = {
                (kind, name): effects.RetryPolicy(retries, bool(on_error), timeout)
                for kind, name, retries, on_error, timeout in self._db.execute(
                    "SELECT kind, name, max_retries, retry_on_error, task_timeout_s FROM retry_policies"
                )
            }
            placed = self._db.execute("SELECT session_id FROM session_placements WHERE spread = 1")
            spread = frozenset(sid for (sid,) in placed)
        return Snapshot(apps, sessions, tasks, finished, runs, keys, policies, spread)

    def load_tasks(self, session_id: str, first: int, last: int) -> list[Task]:
        # A connection of its own (WAL readers do not wait for the writer), used from one thread.
        if self._reader is None:
            self._reader = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        where = "t.session_id = ? AND t.id BETWEEN ? AND ?"
        return _select_tasks(self._reader, self._blobs, where, (session_id, first, last))

    def load_run(self, session_id: str, task_id: int) -> effects.TaskRun | None:
        if self._reader is None:
            self._reader = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        sql = "SELECT run FROM tasks WHERE session_id = ? AND id = ?"
        row = self._reader.execute(sql, (session_id, task_id)).fetchone()
        return None if row is None or row[0] is None else codec.run_from_json(row[0])

    def commit(self, records: list[effects.Record]) -> None:
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                apply_records(db, self._blobs, records, _apply)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # a failed COMMIT (disk full) can leave it open
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                raise
        self._checkpointer.poke()
        for rec in records:
            if isinstance(rec, effects.DeleteSession):
                self._blobs.remove_session(rec.id)

    def close(self) -> None:
        self._checkpointer.stop()
        with self._lock:
            self._db.close()
        if self._reader is not None:
            self._reader.close()


def _task_counts(db: sqlite3.Connection) -> tuple[dict[str, dict[TaskState, int]], dict[str, int]]:
    """Each session's finished tasks counted by state, and its highest task id (one scan)."""
    finished: dict[str, dict[TaskState, int]] = {}
    last_ids: dict[str, int] = {}
    for sid, state, count, last in db.execute(
        "SELECT session_id, state, COUNT(*), MAX(id) FROM tasks GROUP BY session_id, state"
    ):
        last_ids[sid] = max(last_ids.get(sid, 0), last)
        if state >= int(TaskState.SUCCEED):
            finished.setdefault(sid, dict.fromkeys(TaskState, 0))[TaskState(state)] = count
    return finished, last_ids


def _select_tasks(db: sqlite3.Connection, blobs: BlobFiles, where: str, params: tuple) -> list[Task]:
    blob = blobs.resolve
    return [
        Task(
            id=str(tid),
            session_id=sid,
            state=TaskState(state),
            input=blob(inp, inp_file),  # the row's inline value, else task_data's (see the joins)
            output=blob(out, out_file),
            creation_time=ctime,
            completion_time=done,
            events=codec.events_from_json(events),
        )
        for sid, tid, state, inp, inp_file, out, out_file, ctime, done, events in db.execute(
            "SELECT t.session_id, t.id, t.state, COALESCE(t.inline_input, i.data), i.file, "
            "COALESCE(t.inline_output, o.data), o.file, t.creation_time, t.completion_time, t.events "
            "FROM tasks t "
            "LEFT JOIN task_data i ON t.inline_input IS NULL AND i.session_id = t.session_id "
            f"AND i.id = t.id AND i.kind = {INPUT} "
            "LEFT JOIN task_data o ON t.inline_output IS NULL AND o.session_id = t.session_id "
            f"AND o.id = t.id AND o.kind = {OUTPUT} "
            f"WHERE {where} ORDER BY t.session_id, t.id",
            params,
        )
    ]


def _apply(db: sqlite3.Connection, blobs: BlobFiles, rec: effects.Record) -> None:
    """A record other than a task insert or update (those are batched in ``sqlite_tasks``)."""
    match rec:
        case effects.SaveApp(app):
            db.execute(
                "INSERT OR REPLACE INTO applications VALUES (?, ?, ?, ?)",
                (app.name, codec.app_attrs_to_json(app.attributes), int(app.state), app.creation_time),
            )
        case effects.DeleteApp(name):
            db.execute("DELETE FROM applications WHERE name = ?", (name,))
            db.execute("DELETE FROM retry_policies WHERE kind = 'application' AND name = ?", (name,))
        case effects.SaveRetryPolicy(kind, name, policy):
            if policy is None:
                db.execute("DELETE FROM retry_policies WHERE kind = ? AND name = ?", (kind, name))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO retry_policies VALUES (?, ?, ?, ?, ?)",
                    (kind, name, policy.max_retries, int(policy.retry_on_error), policy.task_timeout),
                )
        case effects.SaveSessionPlacement(sid, spread):
            if spread:
                db.execute("INSERT OR REPLACE INTO session_placements VALUES (?, 1)", (sid,))
            else:
                db.execute("DELETE FROM session_placements WHERE session_id = ?", (sid,))
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
            db.execute("DELETE FROM task_data WHERE session_id = ?", (sid,))
            db.execute("DELETE FROM tasks WHERE session_id = ?", (sid,))
            db.execute("DELETE FROM sessions WHERE id = ?", (sid,))
            db.execute("DELETE FROM retry_policies WHERE kind = 'session' AND name = ?", (sid,))
            db.execute("DELETE FROM session_placements WHERE session_id = ?", (sid,))
