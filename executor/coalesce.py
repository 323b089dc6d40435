"""Holding task outcomes briefly so that a burst of short tasks reaches the session manager as one
``task_results`` message (and the client as one completions message) instead of one per task.

An outcome is held only while more tasks of the same executor are still at the service, and never
longer than :data:`HOLD_S`: a sequential caller (nothing else in flight) gets its result at once, and
a long task never holds back the results that finished before it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from executor.events import TaskOutcome

HOLD_S = 0.001  # the longest a finished task's outcome waits for the ones after it
MAX_HELD = 64  # outcomes let out at once at most


class OutcomeCoalescer:
    def __init__(self, emit: Callable[[TaskOutcome], None], hold_s: float = HOLD_S) -> None:
        self._emit = emit
        self._hold_s = hold_s
        self._held: list[TaskOutcome] = []
        self._timer: asyncio.TimerHandle | None = None

    def add(self, outcome: TaskOutcome, more_coming: bool) -> None:
        """``more_coming``: other tasks of this executor are still running or queued at the service."""
        self._held.append(outcome)
        if not more_coming or len(self._held) >= MAX_HELD:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._hold_s, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        held, self._held = self._held, []
        for outcome in held:
            self._emit(outcome)
