"""A flamepy service with failure modes, for end-to-end tests.

Task inputs: b"raise" → ValueError; b"crash" → the process kills itself mid-task;
b"slow" → 0.2 s of work then echo; anything else → echo. Session common data b"fail-enter" makes
on_session_enter raise.
"""

from __future__ import annotations

import os
import signal
import time

import flamepy


class Faulty(flamepy.FlameService):
    def on_session_enter(self, context: flamepy.SessionContext) -> None:
        if context.common_data() == b"fail-enter":
            raise RuntimeError("cannot load the model: weights missing")

    def on_task_invoke(self, context: flamepy.TaskContext) -> bytes | None:
        data = context.input
        if data == b"raise":
            raise ValueError("bad input for this service")
        if data == b"crash":
            os.kill(os.getpid(), signal.SIGKILL)
        if data == b"slow":
            time.sleep(0.2)  # simulated work, not synchronisation
        return data

    def on_session_leave(self) -> None:
        pass


if __name__ == "__main__":
    flamepy.run(Faulty())
