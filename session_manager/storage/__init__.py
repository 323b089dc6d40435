"""Durable storage of applications, sessions and tasks behind one small interface.

Implementations: ``MemoryStorage`` (tests; nothing survives the process) and ``SqliteStorage``
(the embedded default, WAL). ``commit`` applies a batch of records in one transaction and returns
only when it is durable; the group-commit writer (``session_manager.persist``) calls it from one
thread with everything queued since the previous commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from flamepy.types import Application, Task
from session_manager.effects import Record, SaveSession


@dataclass(frozen=True)
class Snapshot:
    apps: list[Application]
    sessions: list[SaveSession]
    tasks: list[Task]


class Storage(Protocol):
    def load(self) -> Snapshot: ...

    def commit(self, records: list[Record]) -> None: ...

    def close(self) -> None: ...


def open_storage(kind: str, data_dir: str | None, sync: str = "normal") -> Storage:
    from session_manager.storage.memory import MemoryStorage
    from session_manager.storage.sqlite import SqliteStorage

    if kind == "memory":
        return MemoryStorage()
    if kind == "sqlite":
        if not data_dir:
            raise ValueError("sqlite storage needs a data directory")
        return SqliteStorage(data_dir, synchronous=sync)
    raise ValueError(f"unknown storage {kind!r}: use sqlite or memory")
