"""``flmexec``: runs the shell script sent as the task input and returns its stdout.

A non-zero exit fails the task with the exit code and the tail of stderr. The session's common
data, when given, is passed to the script in the environment as FLAME_COMMON_DATA (decoded UTF-8).
"""

from __future__ import annotations

import os
import subprocess

import flamepy

STDERR_TAIL = 2000


class Exec(flamepy.FlameService):
    def __init__(self) -> None:
        self.env = dict(os.environ)

    def on_session_enter(self, context: flamepy.SessionContext) -> None:
        data = context.common_data()
        if data is not None:
            self.env["FLAME_COMMON_DATA"] = data.decode("utf-8", "replace")
        self.env["FLAME_SESSION_ID"] = context.session_id

    def on_task_invoke(self, context: flamepy.TaskContext) -> bytes | None:
        script = (context.input or b"").decode("utf-8", "replace")
        self.env["FLAME_TASK_ID"] = context.task_id
        proc = subprocess.run(["/bin/sh", "-c", script], capture_output=True, env=self.env, check=False)
        if proc.returncode != 0:
            tail = proc.stderr.decode("utf-8", "replace")[-STDERR_TAIL:]
            raise RuntimeError(f"script exited with code {proc.returncode}: {tail.strip()}")
        return proc.stdout

    def on_session_leave(self) -> None:
        pass


if __name__ == "__main__":
    flamepy.run(Exec())
