"""A session's spread setting (SetSessionPlacement) is persisted: the core emits a record for each
change, both storages round-trip it, a version 4 SQLite database migrates to version 5, and a
restarted session manager places the session with the setting it had."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import flamepy
from flamepy.types import ApplicationAttributes, SessionAttributes, SessionState
from session_manager import effects
from session_manager import events as ev
from session_manager.clock import FakeClock
from session_manager.core import Core, CoreState
from session_manager.storage.memory import MemoryStorage
from session_manager.storage.sqlite import SCHEMA_VERSION, SqliteStorage


def saved(sid: str) -> effects.SaveSession:
    return effects.SaveSession(sid, SessionAttributes("echo", sid), SessionState.OPEN, 1, None, (), 1)


def test_the_core_records_each_change_and_a_recovered_core_restores_it() -> None:
    core = Core(CoreState(clock=FakeClock()))
    core.handle(ev.RegisterApplication("job", ApplicationAttributes(command="python")))
    core.handle(ev.CreateSession(SessionAttributes(application="job", id="s")))
    core.drain()
    core.handle(ev.SetSessionPlacement("s", True))
    core.handle(ev.SetSessionPlacement("s", True))  # no change: nothing to write
    core.handle(ev.SetSessionPlacement("s", False))
    records = [r for r in core.drain().records if isinstance(r, effects.SaveSessionPlacement)]
    assert records == [effects.SaveSessionPlacement("s", True), effects.SaveSessionPlacement("s", False)]

    again = Core(CoreState(clock=FakeClock()))
    sessions = [saved("s"), saved("t")]
    again.handle(ev.Recover([], sessions, [], {}, spread=frozenset({"s", "gone"})))
    assert again.get_session("s").spread and not again.get_session("t").spread


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_spread_round_trips_and_survives_a_restart(kind: str, tmp_path: Path) -> None:
    store = MemoryStorage() if kind == "memory" else SqliteStorage(tmp_path)
    store.commit([saved("s"), saved("t"), saved("u"), effects.SaveSessionPlacement("s", True)])
    store.commit([effects.SaveSessionPlacement("t", True), effects.SaveSessionPlacement("u", True)])
    store.commit([effects.SaveSessionPlacement("t", False), effects.DeleteSession("u")])
    assert store.load().spread == frozenset({"s"})
    if kind == "sqlite":
        store.close()
        store = SqliteStorage(tmp_path)
        assert store.load().spread == frozenset({"s"})
    store.close()


def test_sqlite_migrates_a_version_4_database(tmp_path: Path) -> None:
    store = SqliteStorage(tmp_path)
    store.commit([saved("s"), effects.SaveRetryPolicy("session", "s", effects.RetryPolicy(2, True, 3.0))])
    store.close()
    db = sqlite3.connect(tmp_path / "flame.db")
    db.executescript("DROP TABLE session_placements; PRAGMA user_version = 4;")
    db.close()
    store = SqliteStorage(tmp_path)
    snap = store.load()
    assert [s.id for s in snap.sessions] == ["s"] and snap.spread == frozenset()
    assert snap.policies == {("session", "s"): effects.RetryPolicy(2, True, 3.0)}
    store.commit([effects.SaveSessionPlacement("s", True)])
    store.close()
    db = sqlite3.connect(tmp_path / "flame.db")
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (6,)
    db.close()
    store = SqliteStorage(tmp_path)
    assert store.load().spread == frozenset({"s"})
    store.close()


def test_a_spread_session_keeps_spread_after_a_restart(start_server) -> None:
    first = start_server()
    with flamepy.Connection(f"http://{first.target}") as conn:
        conn.create_session(flamepy.SessionAttributes(application="flmping", id="wide"), spread=True)
        conn.create_session(flamepy.SessionAttributes(application="flmping", id="narrow"))
    first.stop()
    second = start_server()
    assert second.sm.broker.core.get_session("wide").spread
    assert not second.sm.broker.core.get_session("narrow").spread
