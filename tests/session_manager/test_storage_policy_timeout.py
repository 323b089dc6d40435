"""A retry policy's task timeout is stored: it survives a restart of SQLite storage, and a version 3
database (whose retry_policies table lacked task_timeout_s) migrates to the current version."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from flamepy.types import SessionAttributes, SessionState
from session_manager import effects
from session_manager.storage.memory import MemoryStorage
from session_manager.storage.sqlite import SCHEMA_VERSION, SqliteStorage

SESSION = effects.SaveSession("s", SessionAttributes("echo", "s"), SessionState.OPEN, 1, None, (), 1)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_task_timeout_round_trips_and_survives_a_restart(kind: str, tmp_path: Path) -> None:
    store = MemoryStorage() if kind == "memory" else SqliteStorage(tmp_path)
    timed = effects.RetryPolicy(2, True, 1.5)
    untimed = effects.RetryPolicy(0, False, None)
    store.commit([SESSION, effects.SaveRetryPolicy("session", "s", timed)])
    store.commit([effects.SaveRetryPolicy("application", "echo", untimed)])
    expected = {("session", "s"): timed, ("application", "echo"): untimed}
    assert store.load().policies == expected
    if kind == "sqlite":
        store.close()
        store = SqliteStorage(tmp_path)
        assert store.load().policies == expected
    store.commit([effects.SaveRetryPolicy("session", "s", effects.RetryPolicy(2, True, 30.0))])
    assert store.load().policies[("session", "s")].task_timeout == 30.0
    store.close()


def test_sqlite_migrates_a_version_3_database(tmp_path: Path) -> None:
    store = SqliteStorage(tmp_path)
    store.close()
    db = sqlite3.connect(tmp_path / "flame.db")
    db.executescript(
        """
        DROP TABLE retry_policies;
        CREATE TABLE retry_policies (kind TEXT NOT NULL, name TEXT NOT NULL,
            max_retries INTEGER NOT NULL, retry_on_error INTEGER NOT NULL, PRIMARY KEY (kind, name));
        INSERT INTO retry_policies VALUES ('application', 'echo', 2, 1);
        PRAGMA user_version = 3;
        """
    )
    db.close()
    store = SqliteStorage(tmp_path)
    assert store.load().policies == {("application", "echo"): effects.RetryPolicy(2, True, None)}
    store.commit([effects.SaveRetryPolicy("application", "echo", effects.RetryPolicy(2, True, 4.0))])
    store.close()
    db = sqlite3.connect(tmp_path / "flame.db")
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (6,)
    db.close()
    store = SqliteStorage(tmp_path)
    assert store.load().policies == {("application", "echo"): effects.RetryPolicy(2, True, 4.0)}
    store.close()
