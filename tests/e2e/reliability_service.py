"""A service for the reliability tests. Task inputs: b"die" -> the service process kills itself
(SIGKILL) mid-task; b"kill-manager" -> it kills its executor manager (its parent) with SIGKILL,
then itself; b"sleep:<s>" -> that many seconds of work, then echo; anything else -> echo."""

from __future__ import annotations

import os
import signal
import time

import flamepy


class Reliability(flamepy.FlameService):
    def on_session_enter(self, context: flamepy.SessionContext) -> None:
        pass

    def on_task_invoke(self, context: flamepy.TaskContext) -> bytes | None:
        data = context.input or b""
        if data == b"die":
            os.kill(os.getpid(), signal.SIGKILL)
        if data == b"kill-manager":
            os.kill(os.getppid(), signal.SIGKILL)
            os._exit(1)
        if data.startswith(b"sleep:"):
            time.sleep(float(data[6:]))  # simulated work, not synchronisation
        return data

    def on_session_leave(self) -> None:
        pass


if __name__ == "__main__":
    flamepy.run(Reliability())
