"""The echo service: returns each task's input unchanged.

It records the session's common data in ``on_session_enter``; a task with no input (None) gets that
common data back, so a client can check what the service saw. Run by the executor as
``python service.py``; do not start it by hand.
"""

from __future__ import annotations

import logging

import flamepy
from flamepy.service import SessionContext, TaskContext

log = logging.getLogger("echo-service")


class EchoService(flamepy.FlameService):
    def __init__(self) -> None:
        self.session_id: str | None = None
        self.common_data: bytes | None = None
        self.tasks = 0

    def on_session_enter(self, context: SessionContext) -> None:
        self.session_id = context.session_id
        self.common_data = context.common_data()
        log.info("session %s entered, common data %r", self.session_id, self.common_data)

    def on_task_invoke(self, context: TaskContext) -> bytes | None:
        self.tasks += 1
        if context.input is None:
            return self.common_data
        return context.input

    def on_session_leave(self) -> None:
        log.info("session %s left after %d tasks", self.session_id, self.tasks)


if __name__ == "__main__":
    flamepy.run(EchoService())
