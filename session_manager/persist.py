"""Group commit: every batch of queued records becomes one transaction, awaited before replying.

Two committers with one interface (``start``, ``submit(records, after) -> Future``, ``close``):

* ``LoopCommitter`` commits on the event loop itself, once per loop turn, everything submitted
  during that turn; a submission that carries commands (``now``) commits what is queued at once,
  so its commands leave in the turn they were made. For storage whose commit is cheap (SQLite WAL
  with synchronous=NORMAL: ~30 µs, memory), this avoids two thread hand-offs per commit.
* ``GroupCommitWriter`` commits on one writer thread: the loop calls ``submit`` (non-blocking) and
  awaits the future; the thread takes everything queued so far (bounded), commits once, then
  resolves the futures on the loop. Used when a commit costs an fsync (synchronous=FULL), so the
  loop keeps serving while the disk works and many CreateTask calls share one fsync.

Either way a client's RPC returns only after its records are committed, and what the records
allow (``after``: commands to nodes, announcements to watchers) runs only then, in submission order,
in the same loop turn as the commit completes (an empty submission's ``after`` runs at once when
nothing is queued before it, else behind what is).

A failed commit fails closed: every waiter of the batch gets the error from
``storage.errors.storage_error`` (RESOURCE_EXHAUSTED when the disk is full, else UNAVAILABLE) and
no ``after`` of the batch runs; then ``on_failure(error, resync)`` tells the broker to re-sync its
memory from disk (``resync`` False when every failed submission was ``best_effort``: records that
a reload re-derives anyway). The writer thread also fails, uncommitted, whatever was submitted in
the same epoch after a failed batch (it was built on state the re-sync drops); the broker starts a
new epoch when it re-syncs.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from session_manager.effects import Record
from session_manager.storage.base import Storage
from session_manager.storage.errors import storage_error

log = logging.getLogger(__name__)
MAX_BATCH_RECORDS = 20_000

After = Callable[[], None]
OnFailure = Callable[[BaseException, bool], None]


@dataclass(slots=True)
class _Item:
    records: list[Record]
    future: asyncio.Future[None]
    after: After | None
    best_effort: bool
    epoch: int


def _ignore_failure(error: BaseException, resync: bool) -> None:
    pass


class _Committer:
    def __init__(self, storage: Storage, loop: asyncio.AbstractEventLoop) -> None:
        self._storage = storage
        self._loop = loop
        self.on_failure: OnFailure = _ignore_failure
        self.epoch = 0
        self.commits = 0
        self.failures = 0

    def _finish(self, items: list[_Item], error: BaseException | None) -> None:
        """On the loop: resolve the waiters and run the ``after``s (success), or fail them all."""
        if error is None:
            for item in items:
                if not item.future.done():
                    item.future.set_result(None)
                if item.after is not None:
                    item.after()
            return
        self.failures += 1
        for item in items:
            fut = item.future
            if not fut.done():
                exc = storage_error(error)
                exc.__cause__ = error
                fut.set_exception(exc)
                fut.add_done_callback(_retrieved)
        current = [i for i in items if i.epoch == self.epoch]
        if current:
            self.epoch += 1
            self.on_failure(error, any(not i.best_effort for i in current))


class GroupCommitWriter(_Committer):
    def __init__(self, storage: Storage, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(storage, loop)
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="flame-storage-writer", daemon=True)
        self._queued = 0  # submitted, not yet finished (loop side)
        self._bad_epoch = -1  # writer side: items of this epoch or older fail uncommitted ...
        self._bad_error: BaseException = RuntimeError("no failed commit")  # ... with this error

    def start(self) -> None:
        self._thread.start()

    def submit(
        self, records: list[Record], after: After | None = None, best_effort: bool = False, now: bool = False
    ) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = self._loop.create_future()
        if not records and not self._queued:
            fut.set_result(None)
            if after is not None:
                after()
        else:
            self._queued += 1
            self._queue.put(_Item(records, fut, after, best_effort, self.epoch))
        return fut

    def close(self) -> None:
        """Commit everything queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _done(self, items: list[_Item], error: BaseException | None) -> None:
        self._queued -= len(items)
        self._finish(items, error)

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            if item is None:
                break
            items, count = [item], len(item.records)
            while count < MAX_BATCH_RECORDS:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                items.append(nxt)
                count += len(nxt.records)
            self._commit_items(items)

    def _commit_items(self, items: list[_Item]) -> None:
        poisoned = [i for i in items if i.epoch <= self._bad_epoch]
        if poisoned:
            self._loop.call_soon_threadsafe(self._done, poisoned, self._bad_error)
            items = [i for i in items if i.epoch > self._bad_epoch]
        batch = [rec for i in items for rec in i.records]
        error = _commit(self._storage, batch) if batch else None
        if error is not None and any(not i.best_effort for i in items):
            self._bad_epoch, self._bad_error = max(i.epoch for i in items), error
        self.commits += bool(batch) and error is None
        if items:
            self._loop.call_soon_threadsafe(self._done, items, error)


class LoopCommitter(_Committer):
    def __init__(self, storage: Storage, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(storage, loop)
        self._items: list[_Item] = []
        self._scheduled = False

    def start(self) -> None:
        pass

    def submit(
        self, records: list[Record], after: After | None = None, best_effort: bool = False, now: bool = False
    ) -> asyncio.Future[None]:
        """``now``: commit what is queued at once (commands wait on it: they then leave in this loop
        turn, as early as they did before they waited), else at the end of the turn."""
        fut: asyncio.Future[None] = self._loop.create_future()
        if not records and not self._items:
            fut.set_result(None)
            if after is not None:
                after()
            return fut
        self._items.append(_Item(records, fut, after, best_effort, self.epoch))
        if now:
            self._flush()
        elif not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        self._scheduled = False  # a call scheduled before a ``now`` commit finds nothing left
        items, self._items = self._items, []
        if not items:
            return
        batch = [rec for i in items for rec in i.records]
        error = _commit(self._storage, batch) if batch else None
        self.commits += bool(batch) and error is None
        self._finish(items, error)

    def close(self) -> None:
        self._flush()


def _commit(storage: Storage, batch: list[Record]) -> BaseException | None:
    """Commit one batch; the error (if any) is reported to every waiter."""
    try:
        storage.commit(batch)
    except Exception as exc:
        log.error("storage commit of %d records failed: %s: %s", len(batch), type(exc).__name__, exc)
        return exc
    return None


def _retrieved(fut: asyncio.Future[None]) -> None:
    fut.exception()  # a submission nobody awaits (a node's report) must not log "never retrieved"
