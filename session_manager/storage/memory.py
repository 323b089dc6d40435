"""In-memory storage for tests: same semantics as SQLite, gone with the process."""

from __future__ import annotations

from dataclasses import replace

from flamepy.types import Application, Task, TaskState
from session_manager import effects
from session_manager.storage.base import Snapshot


class MemoryStorage:
    def __init__(self) -> None:
        self.apps: dict[str, Application] = {}
        self.sessions: dict[str, effects.SaveSession] = {}
        self.tasks: dict[tuple[str, str], Task] = {}
        self.runs: dict[tuple[str, int], effects.TaskRun] = {}
        self.keys: dict[str, dict[str, int]] = {}
        self.policies: dict[tuple[str, str], effects.RetryPolicy] = {}
        self.spread: set[str] = set()
        self.commits = 0

    def load(self) -> Snapshot:
        unfinished: list[Task] = []
        finished: dict[str, dict[TaskState, int]] = {}
        for t in self.tasks.values():
            if t.state.is_terminal:
                counts = finished.setdefault(t.session_id, dict.fromkeys(TaskState, 0))
                counts[t.state] += 1
            else:
                unfinished.append(t)
        runs = {
            (t.session_id, int(t.id)): self.runs[(t.session_id, int(t.id))]
            for t in unfinished
            if (t.session_id, int(t.id)) in self.runs
        }
        keys = {sid: dict(k) for sid, k in self.keys.items()}
        apps, sessions = list(self.apps.values()), list(self.sessions.values())
        policies, spread = dict(self.policies), frozenset(self.spread)
        return Snapshot(apps, sessions, unfinished, finished, runs, keys, policies, spread)

    def load_tasks(self, session_id: str, first: int, last: int) -> list[Task]:
        found = (self.tasks.get((session_id, str(i))) for i in range(first, last + 1))
        return [t for t in found if t is not None]

    def load_run(self, session_id: str, task_id: int) -> effects.TaskRun | None:
        return self.runs.get((session_id, task_id))

    def commit(self, records: list[effects.Record]) -> None:
        self.commits += 1
        for rec in records:
            match rec:
                case effects.SaveApp(app):
                    self.apps[app.name] = app
                case effects.DeleteApp(name):
                    self.apps.pop(name, None)
                    self.policies.pop(("application", name), None)
                case effects.SaveRetryPolicy(kind, name, policy):
                    if policy is None:
                        self.policies.pop((kind, name), None)
                    else:
                        self.policies[(kind, name)] = policy
                case effects.SaveSessionPlacement(sid, spread):
                    if spread:
                        self.spread.add(sid)
                    else:
                        self.spread.discard(sid)
                case effects.SaveSession():
                    self.sessions[rec.id] = rec
                case effects.DeleteSession(sid):
                    self.sessions.pop(sid, None)
                    for key in [k for k in self.tasks if k[0] == sid]:
                        del self.tasks[key]
                    self.keys.pop(sid, None)
                    self.policies.pop(("session", sid), None)
                    self.spread.discard(sid)
                    for run_key in [k for k in self.runs if k[0] == sid]:
                        del self.runs[run_key]
                case effects.InsertTask(task, key):
                    self.tasks[(task.session_id, task.id)] = task
                    ses = self.sessions.get(task.session_id)
                    if ses is not None and ses.next_task_id <= int(task.id):  # as SQLite's load gives
                        self.sessions[ses.id] = replace(ses, next_task_id=int(task.id) + 1)
                    if key:
                        self.keys.setdefault(task.session_id, {})[key] = int(task.id)
                case effects.UpdateTask(task, run):
                    self.tasks[(task.session_id, task.id)] = task
                    if run is not None:
                        self.runs[(task.session_id, int(task.id))] = run

    def close(self) -> None:
        pass
