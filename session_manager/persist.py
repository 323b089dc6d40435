"""Group commit: one writer thread turns every batch of queued records into one transaction.

Concurrency: the asyncio loop calls ``submit`` (non-blocking) and awaits the returned future; the
writer thread blocks on its queue, takes everything queued so far (bounded), commits it once, then
resolves all the waiting futures on the loop. Many CreateTask calls arriving together therefore
cost one fsync, and each still returns only after its records are durable.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading

from session_manager.effects import Record
from session_manager.storage import Storage

log = logging.getLogger(__name__)
MAX_BATCH_RECORDS = 20_000


class GroupCommitWriter:
    def __init__(self, storage: Storage, loop: asyncio.AbstractEventLoop) -> None:
        self._storage = storage
        self._loop = loop
        self._queue: queue.SimpleQueue[tuple[list[Record], asyncio.Future[None]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="flame-storage-writer", daemon=True)
        self.commits = 0

    def start(self) -> None:
        self._thread.start()

    def submit(self, records: list[Record]) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = self._loop.create_future()
        if not records:
            fut.set_result(None)
        else:
            self._queue.put((records, fut))
        return fut

    def close(self) -> None:
        """Commit everything queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            if item is None:
                break
            batch, waiters = list(item[0]), [item[1]]
            while len(batch) < MAX_BATCH_RECORDS:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.extend(nxt[0])
                waiters.append(nxt[1])
            error: BaseException | None = None
            try:
                self._storage.commit(batch)
                self.commits += 1
            except Exception as exc:  # report to every waiter; the server answers INTERNAL
                log.exception("storage commit of %d records failed", len(batch))
                error = exc
            self._loop.call_soon_threadsafe(_resolve, waiters, error)


def _resolve(waiters: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for fut in waiters:
        if fut.done():
            continue
        if error is None:
            fut.set_result(None)
        else:
            fut.set_exception(error)
