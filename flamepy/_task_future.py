"""The Future that ``Session.run`` returns: ``cancel()`` also cancels a task already submitted.

A plain :class:`concurrent.futures.Future` refuses to cancel once it is running (here: once its
input was handed to the submitter). :class:`TaskFuture` learns its task id when the submission
returns (:func:`bind_task_ids`, called by the dispatcher's submitter) and then asks the session
manager to cancel the task (``Transport.cancel_task``: a running task's service is stopped); it
returns True when the server answered with the task Cancelled, and the future is then cancelled
(``result()`` raises :class:`concurrent.futures.CancelledError`). Still queued on the client, it
cancels like any Future; while its submission is in flight, or once finished, it returns False.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures._base import CANCELLED_AND_NOTIFIED, FINISHED
from typing import Any

from flamepy.errors import FlameError
from flamepy.types import Task, TaskState

log = logging.getLogger(__name__)


class TaskFuture(Future):
    def __init__(self, cancel_task: Callable[[str], Task]) -> None:
        super().__init__()
        self._cancel_task = cancel_task
        self.task_id: str | None = None  # known once its CreateTasks call returned

    def cancel(self) -> bool:
        if super().cancel():  # not handed to the submitter yet
            return True
        tid = self.task_id
        if tid is None or self.done():
            return False
        try:
            task = self._cancel_task(tid)
        except FlameError as exc:
            log.warning("cancelling task %s failed: %s", tid, exc)
            return False
        if task.state != TaskState.CANCELLED:
            return False
        with self._condition:
            if self._state == FINISHED:
                # its completion (Cancelled, an error) came first, and it was this cancel: read as
                # cancelled, so that cancel() True always goes with cancelled() True
                self._exception = None
                self._state = CANCELLED_AND_NOTIFIED
                self._condition.notify_all()
                return True
            self._state = CANCELLED_AND_NOTIFIED
            for waiter in self._waiters:
                waiter.add_cancelled(self)
            self._condition.notify_all()
        self._invoke_callbacks()  # type: ignore[attr-defined]  # as Future.cancel() does
        return True


def bind_task_ids(handles: Sequence[Any], ids: Sequence[str]) -> None:
    """The submitter got ``ids`` for the first ``len(ids)`` of ``handles``."""
    for fut, tid in zip(handles, ids, strict=False):
        if isinstance(fut, TaskFuture):
            fut.task_id = tid
