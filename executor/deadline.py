"""The wall-clock limit of the task an executor's service is running: one timer per executor.

:class:`HeadDeadline` is armed when a task with a timeout reaches the service (over the task pipe:
when it becomes the head of the tasks sent) and disarmed when its answer comes; a task without a
timeout costs nothing. On expiry it calls back with the task; the executor then stops the service.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from executor.events import TaskRequest


class HeadDeadline:
    def __init__(self, on_expiry: Callable[[TaskRequest], None]) -> None:
        self._on_expiry = on_expiry
        self._timer: asyncio.TimerHandle | None = None
        self._task: TaskRequest | None = None

    def arm(self, task: TaskRequest) -> None:
        """``task`` reached the service now (replaces the previous one's deadline)."""
        self.disarm()
        if task.timeout is not None:
            self._task = task
            self._timer = asyncio.get_running_loop().call_later(task.timeout, self._fire)

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._task = None

    def _fire(self) -> None:
        task, self._timer, self._task = self._task, None, None
        if task is not None:
            self._on_expiry(task)
