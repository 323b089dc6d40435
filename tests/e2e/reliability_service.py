"""A service for the reliability tests. Task inputs: b"die" -> the service process kills itself
(SIGKILL) mid-task; b"kill-manager" -> it kills its executor manager (its parent) with SIGKILL,
then itself; b"sleep:<s>" -> that many seconds of work, then echo; anything else -> echo. When the
session's common data is b"log:<path>", every invocation first appends "<task id>\n" to <path>
(one write, O_APPEND): how often each task really ran."""

from __future__ import annotations

import os
import signal
import time

import flamepy


class Reliability(flamepy.FlameService):
    def __init__(self) -> None:
        self.log: str | None = None

    def on_session_enter(self, context: flamepy.SessionContext) -> None:
        common = context.common_data() or b""
        self.log = common[4:].decode() if common.startswith(b"log:") else None

    def on_task_invoke(self, context: flamepy.TaskContext) -> bytes | None:
        data = context.input or b""
        if self.log is not None:
            fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, f"{context.task_id}\n".encode())
            finally:
                os.close(fd)
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
