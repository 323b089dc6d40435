"""Durable storage of applications, sessions and tasks behind one small interface (``base``).

Implementations: ``MemoryStorage`` (tests; nothing survives the process) and ``SqliteStorage``
(the embedded default, WAL). A new backend (PostgreSQL) is one more module implementing
:class:`~session_manager.storage.base.Storage` and one more branch in :func:`open_storage`.
"""

from __future__ import annotations

from session_manager.storage.base import Snapshot, Storage
from session_manager.storage.memory import MemoryStorage
from session_manager.storage.sqlite import SqliteStorage

__all__ = ["MemoryStorage", "Snapshot", "SqliteStorage", "Storage", "open_storage"]


def open_storage(kind: str, data_dir: str | None, sync: str = "normal") -> Storage:
    if kind == "memory":
        return MemoryStorage()
    if kind == "sqlite":
        if not data_dir:
            raise ValueError("sqlite storage needs a data directory")
        return SqliteStorage(data_dir, synchronous=sync)
    raise ValueError(f"unknown storage {kind!r}: use sqlite or memory")
