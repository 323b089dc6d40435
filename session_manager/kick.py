"""The scheduling loop's wake-up: coalesced, so that a pass never runs ahead of replies.

A change that may need a scheduling pass (a task pending, an executor idle, a node come or gone)
calls :meth:`Kick.soon`: the pass runs ``delay`` seconds later, once for every change made
meanwhile. Were it woken at once, the pass an executor's last result asks for would run in the
next loop turn, before that result's commit and the reply to the client waiting on it; a pass
ever needed that soon does not exist (the task's own session is dealt its next task in the
result's event already). A timer the pass itself set (an idle executor's release, a bind
back-off) is set with :meth:`Kick.after`. Used only from the event loop's thread.
"""

from __future__ import annotations

import asyncio

COALESCE_S = 0.0005  # how long a pass waits for more changes: far below anything a pass starts


class Kick:
    def __init__(self, delay: float = COALESCE_S) -> None:
        self._event = asyncio.Event()
        self._delay = delay
        self._pending: asyncio.TimerHandle | None = None  # soon()'s
        self._timer: asyncio.TimerHandle | None = None  # after()'s

    def soon(self) -> None:
        """Wake the loop after the delay (nothing more when a wake-up is already due)."""
        if self._pending is None and not self._event.is_set():
            self._pending = asyncio.get_running_loop().call_later(self._delay, self.now)

    def now(self) -> None:
        self._event.set()

    def after(self, delay: float | None) -> None:
        """Wake the loop ``delay`` seconds from now (None: no timer), replacing the timer set by
        an earlier call: the one a scheduling pass asks for."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if delay is not None:
            self._timer = asyncio.get_running_loop().call_later(delay, self.now)

    async def wait(self) -> None:
        """Until woken; then clears, so that a change made during the pass wakes it again."""
        await self._event.wait()
        self._event.clear()
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def cancel(self) -> None:
        """Drop every wake-up armed (at shutdown)."""
        for timer in (self._pending, self._timer):
            if timer is not None:
                timer.cancel()
        self._pending = self._timer = None
