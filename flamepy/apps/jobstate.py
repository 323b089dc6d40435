"""The state file of a running job task, next to its log in the node's index.

The job runner (:mod:`flamepy.apps.jobrun`) writes ``<index>/<session>/<task>.state`` (owner-only,
0600; replaced atomically) each time it starts a process of the task: the process id (the job's
process group: every job process runs in a session of its own), its start time (so a reused pid is
not mistaken for the job), the working directory and the environment it was given (with
``CUDA_VISIBLE_DEVICES``). The executor manager reads it for ``GetTaskStats`` and ``ExecInTask``
(:mod:`executor.taskprobe`, :mod:`executor.taskexec`). The file stays after the job ends: whether
the job still runs is decided by looking at the process, never by the file alone.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from flamepy.apps.joblog import index_path
from flamepy.common.private_files import write_private

STATE_SUFFIX = ".state"

__all__ = ["JobState", "read_state", "state_path", "write_state"]


@dataclass(frozen=True)
class JobState:
    pid: int
    create_time: float
    cwd: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def gpus(self) -> tuple[int, ...]:
        """The GPU indexes of ``CUDA_VISIBLE_DEVICES`` (numbers only; UUIDs are skipped)."""
        raw = self.env.get("CUDA_VISIBLE_DEVICES", "")
        return tuple(int(p) for p in raw.split(",") if p.strip().isdigit())


def state_path(root: Path, session_id: str, task_id: str) -> Path:
    """Where the state of a task is kept (ValueError for an id that cannot name a file)."""
    log = index_path(root, session_id, task_id)
    return log.with_name(log.name.removesuffix(".log") + STATE_SUFFIX)


def write_state(entry: Path | None, pid: int, cwd: Path, env: Mapping[str, str]) -> None:
    """Record the process ``pid`` started in ``cwd`` with ``env`` for the task whose index entry
    (its ``.log`` link) is ``entry``; nothing without an index. Best effort: never raises."""
    if entry is None:
        return
    import psutil  # on the first job only, as jobrun does: flmexec starts without it

    try:
        created = psutil.Process(pid).create_time()
    except psutil.Error:  # the process is already gone: no state worth writing
        return
    path = entry.with_name(entry.name.removesuffix(".log") + STATE_SUFFIX)
    body = json.dumps({"pid": pid, "create_time": created, "cwd": str(cwd), "env": dict(env)})
    with contextlib.suppress(OSError):
        write_private(path, body)


def read_state(path: Path) -> JobState | None:
    """The state in ``path``; None when there is none (FileNotFoundError) or it is unreadable."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        env = {str(k): str(v) for k, v in dict(raw.get("env") or {}).items()}
        return JobState(int(raw["pid"]), float(raw["create_time"]), str(raw["cwd"]), env)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
