"""Group commit: many submissions in one loop turn (or queued while the writer works) → one commit."""

from __future__ import annotations

import asyncio

import pytest

from flamepy.types import Application, ApplicationAttributes
from session_manager import effects
from session_manager.persist import GroupCommitWriter, LoopCommitter
from session_manager.storage.memory import MemoryStorage
from session_manager.storage.sqlite import SqliteStorage


def app(name: str) -> effects.SaveApp:
    return effects.SaveApp(Application(name, ApplicationAttributes(command="c")))


@pytest.mark.parametrize("kind", [LoopCommitter, GroupCommitWriter])
def test_submissions_are_committed_and_grouped(kind) -> None:
    async def main() -> MemoryStorage:
        storage = MemoryStorage()
        writer = kind(storage, asyncio.get_running_loop())
        writer.start()
        futs = [writer.submit([app(f"a{i}")]) for i in range(50)]
        await asyncio.gather(*futs)
        assert len(storage.apps) == 50
        assert 1 <= storage.commits < 50  # grouped
        empty = writer.submit([])
        assert empty.done()
        writer.close()
        return storage

    asyncio.run(main())


@pytest.mark.parametrize("kind", [LoopCommitter, GroupCommitWriter])
def test_a_failed_commit_fails_every_waiter(kind) -> None:
    class Broken(MemoryStorage):
        def commit(self, records):
            raise OSError("disk full")

    async def main() -> None:
        writer = kind(Broken(), asyncio.get_running_loop())
        writer.start()
        futs = [writer.submit([app("x")]), writer.submit([app("y")])]
        results = await asyncio.gather(*futs, return_exceptions=True)
        assert all(isinstance(r, OSError) for r in results)
        writer.close()

    asyncio.run(main())


def test_sqlite_full_sync_survives_reopen(tmp_path) -> None:
    store = SqliteStorage(tmp_path, synchronous="full")
    store.commit([app("durable")])
    store.close()
    again = SqliteStorage(tmp_path)
    assert [a.name for a in again.load().apps] == ["durable"]
    again.close()
    with pytest.raises(ValueError, match="sync mode"):
        SqliteStorage(tmp_path, synchronous="sometimes")
