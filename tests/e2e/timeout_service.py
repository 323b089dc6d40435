"""A flamepy service that hangs on purpose, for the timeout and cancel tests.

Task inputs: ``b"hang:<file>"`` starts a ``sleep 3600`` child in the service's process group,
writes ``<service pid> <child pid>`` to ``<file>``, then sleeps for an hour inside
``on_task_invoke``; ``b"hang"`` does the same without the file; ``b"pid"`` answers the service's
pid; anything else is echoed.
"""

from __future__ import annotations

import os
import subprocess
import time

import flamepy


class Hang(flamepy.FlameService):
    def on_session_enter(self, context: flamepy.SessionContext) -> None:
        pass

    def on_task_invoke(self, context: flamepy.TaskContext) -> bytes | None:
        data = context.input or b""
        if data == b"pid":
            return str(os.getpid()).encode()
        if data.startswith(b"hang"):
            child = subprocess.Popen(["sleep", "3600"])
            if data.startswith(b"hang:"):
                path = data[len(b"hang:") :].decode()
                with open(path + ".tmp", "w") as out:
                    out.write(f"{os.getpid()} {child.pid}")
                os.replace(path + ".tmp", path)
            time.sleep(3600)  # the hang under test, not synchronisation
        return data

    def on_session_leave(self) -> None:
        pass


if __name__ == "__main__":
    flamepy.run(Hang())
