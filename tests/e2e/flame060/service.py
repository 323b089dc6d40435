"""A service written against flamepy 0.6.0 from PyPI, run by that venv's python under our executor.

Only 0.6.0's public API: a plain ``FlameService`` subclass and ``flamepy.run(...)``. It is
registered the way Flame's examples register services: ``arguments: [service.py]`` relative to the
application's ``working_directory``, with ``environments``.

Session common data ``b"fail-enter"`` makes ``on_session_enter`` raise.

Task inputs:
- ``b"common"``      → the session's common data as the service saw it in ``on_session_enter``
- ``b"env"``         → JSON: cwd, argv, flamepy version and location, the FLAME060_* environment,
  session id and application context of ``on_session_enter``
- ``b"raise:<msg>"`` → raises ``RuntimeError(<msg>)`` (the task fails with that message)
- ``b"wait:<path>"`` → waits for a shared lock on the file <path> (the client holds it exclusively
  to keep tasks running), then returns ``b"released"``
- ``b"stats"``       → JSON: how many tasks this process ran and the most it ran at once
- ``b"none"``        → returns None (a task without output)
- anything else      → echoed back
"""

import fcntl
import json
import os
import sys
import threading

import flamepy


class Echo(flamepy.FlameService):
    def __init__(self):
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.invoked = 0
        self.common_data = None
        self.session_id = None
        self.application = None

    def on_session_enter(self, context):
        if context.common_data() == b"fail-enter":
            raise RuntimeError("cannot load the model: weights missing")
        self.common_data = context.common_data()
        self.session_id = context.session_id
        app = context.application
        self.application = {
            "name": app.name,
            "command": app.command,
            "working_directory": app.working_directory,
            "image": app.image,
            "url": app.url,
        }

    def on_task_invoke(self, context):
        # 0.6.0 serves with 10 threads: count how many calls the executor makes at once
        with self.lock:
            self.invoked += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return self.handle(context)
        finally:
            with self.lock:
                self.in_flight -= 1

    def handle(self, context):
        data = context.input
        if data == b"stats":
            with self.lock:
                return json.dumps({"invoked": self.invoked, "max_in_flight": self.max_in_flight}).encode()
        if data == b"common":
            return self.common_data
        if data == b"env":
            info = {
                "cwd": os.getcwd(),
                "argv": sys.argv,
                "flamepy_version": flamepy.__version__,
                "flamepy_file": flamepy.__file__,
                "env": {k: v for k, v in os.environ.items() if k.startswith("FLAME060_")},
                "session_id": self.session_id,
                "task_session_id": context.session_id,
                "application": self.application,
            }
            return json.dumps(info).encode()
        if data is not None and data.startswith(b"raise:"):
            raise RuntimeError(data[len(b"raise:") :].decode())
        if data is not None and data.startswith(b"wait:"):
            with open(data[len(b"wait:") :].decode(), "rb") as lock:
                fcntl.flock(lock, fcntl.LOCK_SH)
            return b"released"
        if data == b"none":
            return None
        return data

    def on_session_leave(self):
        self.common_data = None


if __name__ == "__main__":
    flamepy.run(Echo())
