"""In-memory storage for tests: same semantics as SQLite, gone with the process."""

from __future__ import annotations

from flamepy.types import Application, Task
from session_manager import effects
from session_manager.storage import Snapshot


class MemoryStorage:
    def __init__(self) -> None:
        self.apps: dict[str, Application] = {}
        self.sessions: dict[str, effects.SaveSession] = {}
        self.tasks: dict[tuple[str, str], Task] = {}
        self.commits = 0

    def load(self) -> Snapshot:
        return Snapshot(list(self.apps.values()), list(self.sessions.values()), list(self.tasks.values()))

    def commit(self, records: list[effects.Record]) -> None:
        self.commits += 1
        for rec in records:
            match rec:
                case effects.SaveApp(app):
                    self.apps[app.name] = app
                case effects.DeleteApp(name):
                    self.apps.pop(name, None)
                case effects.SaveSession():
                    self.sessions[rec.id] = rec
                case effects.DeleteSession(sid):
                    self.sessions.pop(sid, None)
                    for key in [k for k in self.tasks if k[0] == sid]:
                        del self.tasks[key]
                case effects.InsertTask(task) | effects.UpdateTask(task):
                    self.tasks[(task.session_id, task.id)] = task

    def close(self) -> None:
        pass
