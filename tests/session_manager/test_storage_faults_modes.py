"""Owner-only files whatever the umask: the session manager's data directory (0700), its database,
WAL, SHM and data files (0600), and the object cache's disk storage (0700); looser modes left by an
older version are fixed on open, with a log line."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from flamepy.types import SessionAttributes, SessionState, Task, TaskState
from object_cache.storage.disk import DiskStorage
from session_manager import effects
from session_manager.storage.sqlite import SqliteStorage


@pytest.fixture
def umask_000() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_files_are_owner_only_with_umask_000(tmp_path: Path, umask_000: None) -> None:
    data = tmp_path / "data"
    store = SqliteStorage(data)
    ses = effects.SaveSession("s", SessionAttributes("echo", "s"), SessionState.OPEN, 1, None, (), 1)
    big = Task("1", "s", TaskState.PENDING, creation_time=1, input=b"x" * (100 << 10))
    store.commit([ses, effects.InsertTask(big)])
    try:
        paths = [data, *data.rglob("*")]
        assert {"flame.db", "flame.db-wal", "flame.db-shm", "1.0"} <= {p.name for p in paths}
        for p in paths:
            assert _mode(p) == (0o700 if p.is_dir() else 0o600), (p, oct(_mode(p)))
    finally:
        store.close()


def test_looser_modes_are_fixed_on_open(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "data"
    SqliteStorage(data).close()
    os.chmod(data, 0o755)
    for name in ("flame.db", "flame.db-wal", "flame.db-shm"):
        if (data / name).exists():
            os.chmod(data / name, 0o644)
    with caplog.at_level(logging.WARNING):
        SqliteStorage(data).close()
    assert _mode(data) == 0o700 and _mode(data / "flame.db") == 0o600
    assert "made it 0700" in caplog.text and "made it 0600" in caplog.text


def test_object_cache_disk_storage_is_owner_only(tmp_path: Path, umask_000: None) -> None:
    DiskStorage(tmp_path / "cache")
    for p in [tmp_path / "cache", *(tmp_path / "cache").iterdir()]:
        if p.is_dir():
            assert _mode(p) == 0o700, (p, oct(_mode(p)))
    os.chmod(tmp_path / "cache", 0o755)
    DiskStorage(tmp_path / "cache")
    assert _mode(tmp_path / "cache") == 0o700
