"""A flamepy service whose task waits for the test: the input is the path of a FIFO; the task
reads it to its end (blocking until the test writes and closes it) and answers what it read."""

from __future__ import annotations

import flamepy


class Gate(flamepy.FlameService):
    def on_session_enter(self, context: flamepy.SessionContext) -> None:
        pass

    def on_task_invoke(self, context: flamepy.TaskContext) -> bytes | None:
        with open((context.input or b"").decode(), "rb") as fifo:
            return fifo.read()

    def on_session_leave(self) -> None:
        pass


if __name__ == "__main__":
    flamepy.run(Gate())
