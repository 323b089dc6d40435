"""A wake-up for the one coroutine that waits on it: cheaper than racing futures with asyncio.wait.

The executor's worker waits for "something changed" (a task queued, the service answered, a stop
asked for, the pipe broke, the process exited) once or twice per task. Racing an
``asyncio.Event`` against the other futures with ``asyncio.wait`` costs a new Task, a done-callback
added to and removed from every racer, and a cancelled Task per wait; a :class:`Doorbell` costs one
future. The futures that must wake the waiter ring it from a done-callback, registered once
(:meth:`Doorbell.watch`).

Level-triggered like an Event: :meth:`wait` returns at once when the bell rang since the last
:meth:`clear`. Used only from the event loop's thread.
"""

from __future__ import annotations

import asyncio
from typing import Any


class Doorbell:
    __slots__ = ("_rung", "_waiter")

    def __init__(self) -> None:
        self._rung = False
        self._waiter: asyncio.Future[None] | None = None

    def ring(self, *_done: object) -> None:
        """Wake the waiter (now or at its next wait); also a done-callback."""
        self._rung = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def clear(self) -> None:
        self._rung = False

    def watch(self, fut: asyncio.Future[Any]) -> None:
        """Ring when ``fut`` completes (at once if it has)."""
        fut.add_done_callback(self.ring)

    async def wait(self) -> None:
        """Return once the bell rang since the last :meth:`clear`."""
        if self._rung:
            return
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            self._waiter = None
