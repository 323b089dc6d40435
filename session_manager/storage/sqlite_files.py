"""The SQLite store's helpers on the side: large task data as files (``BlobFiles``), WAL
checkpoints on a thread of their own (``Checkpointer``), and owner-only modes (``owner_only_dir``,
``owner_only_file``): the data directory and every directory under it 0700, the database, its WAL
and SHM and the data files 0600, whatever the umask; looser modes found on open are fixed, with a
log line."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger(__name__)
CHECKPOINT_EVERY_S = 1.0
DIR_MODE, FILE_MODE = 0o700, 0o600


def owner_only_dir(path: Path) -> None:
    """Create ``path`` (and its parents) if missing; make it 0700."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    _tighten(path, DIR_MODE)


def owner_only_file(path: Path) -> None:
    """Create ``path`` empty if missing (0600 from the start); make it 0600."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    _tighten(path, FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    have = path.stat().st_mode & 0o777
    if have & ~mode:
        log.warning("%s had mode %04o: made it %04o (owner only)", path, have, mode)
        os.chmod(path, mode)


class Checkpointer:
    """Moves committed WAL pages into the database file on its own thread and connection, at most
    once per :data:`CHECKPOINT_EVERY_S` while commits come in (PASSIVE: never blocks a writer)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.ran = threading.Event()  # set after each checkpoint (tests wait on it)
        self._thread = threading.Thread(target=self._run, name="flame-sqlite-checkpoint", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        if not self._wake.is_set():  # once per commit: skip the lock and notify when already set
            self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        try:
            while True:
                self._wake.wait()
                if self._stopping.is_set():
                    return
                self._wake.clear()
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as exc:
                    log.warning("SQLite checkpoint of %s failed: %s", self._path, exc)
                self.ran.set()
                self._stopping.wait(CHECKPOINT_EVERY_S)  # a rate limit, not a poll: poke() wakes us
        finally:
            db.close()


class BlobFiles:
    """Large task data as files, one directory per session; rows name them relative to the root."""

    def __init__(self, root: Path, fsync: bool) -> None:
        self.root = root
        self.fsync = fsync

    def _session_dir(self, session_id: str) -> str:
        return hashlib.sha1(session_id.encode()).hexdigest()[:20]

    def write(self, session_id: str, task_id: int, kind: int, data: bytes) -> str:
        """Write atomically (temporary file, rename); the name to store in the row."""
        name = f"{self._session_dir(session_id)}/{task_id}.{kind}"
        path = self.root / name
        self.root.mkdir(mode=DIR_MODE, exist_ok=True)
        path.parent.mkdir(mode=DIR_MODE, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        try:
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE), "wb") as f:
                f.write(data)
                if self.fsync:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)  # a full disk: give back what the partial file took
            raise
        if self.fsync:
            fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        return name

    def resolve(self, data: bytes | None, name: str | None) -> bytes | None:
        if name is None:
            return data
        try:
            return (self.root / name).read_bytes()
        except FileNotFoundError:
            raise RuntimeError(
                f"task data file {self.root / name} is missing: the data directory is damaged"
            ) from None

    def remove_session(self, session_id: str) -> None:
        shutil.rmtree(self.root / self._session_dir(session_id), ignore_errors=True)
