"""The chaos bench's service: echoes each task's input after a little simulated work.

``python bench/chaos/service.py EXECUTION_LOG WORK_MS``. Before its work, every execution appends
one line ``<session id> <task id> <input> <pid>`` to EXECUTION_LOG, opened with ``O_APPEND`` (one
``write`` per line, so lines from concurrent service processes never interleave). The bench counts
executions from this file, outside the broker: a task killed mid-run and run again shows up twice.
"""

from __future__ import annotations

import os
import sys
import time

import flamepy


class Recorder(flamepy.FlameService):
    def __init__(self, log_path: str, work_s: float) -> None:
        self._fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._work_s = work_s

    def on_session_enter(self, context: flamepy.SessionContext) -> None:
        pass

    def on_task_invoke(self, context: flamepy.TaskContext) -> bytes | None:
        data = context.input or b""
        line = f"{context.session_id} {context.task_id} {data.decode(errors='replace')} {os.getpid()}\n"
        os.write(self._fd, line.encode())
        time.sleep(self._work_s)  # simulated work, not synchronisation
        return data

    def on_session_leave(self) -> None:
        pass


if __name__ == "__main__":
    flamepy.run(Recorder(sys.argv[1], float(sys.argv[2]) / 1000.0))
