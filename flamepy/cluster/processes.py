"""Spawning and stopping the local cluster's daemons (real OS processes).

Concurrency model: synchronous; every wait has a deadline. A process is identified by
``(pid, create_time)`` so a recycled pid is never mistaken for one of ours, which matters when
``flmctl cluster down`` stops processes that another ``flmctl`` started.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

logger = logging.getLogger(__name__)

DEFAULT_GRACE_S = 10.0


@dataclass(frozen=True)
class ProcessRecord:
    """One daemon of a local cluster: enough to find it again from another process."""

    name: str
    pid: int
    create_time: float
    log_file: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pid": self.pid,
            "create_time": self.create_time,
            "log_file": self.log_file,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ProcessRecord:
        return cls(
            name=str(doc["name"]),
            pid=int(doc["pid"]),
            create_time=float(doc["create_time"]),
            log_file=str(doc["log_file"]),
        )

    def process(self) -> psutil.Process | None:
        """The live process, or None when it exited (or the pid now belongs to someone else)."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) > 0.01:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            return proc
        except psutil.Error:
            return None

    def is_alive(self) -> bool:
        return self.process() is not None


def spawn(
    name: str,
    args: Sequence[str],
    log_file: Path,
    env: Mapping[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], ProcessRecord]:
    """Start ``args`` in its own session (it outlives the caller, Ctrl-C does not reach it) with
    stdout and stderr appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"=== {stamp} flmctl: starting {' '.join(args)}\n".encode())
        log.flush()
        popen = subprocess.Popen(
            list(args),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(os.environ if env is None else env),
            start_new_session=True,
            close_fds=True,
        )
    try:
        create_time = psutil.Process(popen.pid).create_time()
    except psutil.Error:  # exited already: the caller's readiness check reports it with the log
        create_time = 0.0
    logger.info("started %s (pid %d), log %s", name, popen.pid, log_file)
    return popen, ProcessRecord(name, popen.pid, create_time, str(log_file))


def terminate(records: Iterable[ProcessRecord], grace_s: float = DEFAULT_GRACE_S) -> None:
    """SIGTERM each live process (in the given order), SIGKILL what is left after ``grace_s``,
    then kill any descendant (e.g. a service process) that outlived its parent."""
    for record in records:
        proc = record.process()
        if proc is None:
            continue
        try:
            descendants = proc.children(recursive=True)
        except psutil.Error:
            descendants = []
        _stop([proc], grace_s, record.name)
        # the executor manager stops its service processes on SIGTERM; reap what it left
        _stop([d for d in descendants if _alive(d)], grace_s=2.0, name=f"{record.name} children")


def _stop(procs: list[psutil.Process], grace_s: float, name: str) -> None:
    if not procs:
        return
    for proc in procs:
        _signal(proc, terminate=True)
    _, alive = psutil.wait_procs(procs, timeout=grace_s)
    if alive:
        logger.warning("%s did not exit %.0fs after SIGTERM; sending SIGKILL", name, grace_s)
        for proc in alive:
            _signal(proc, terminate=False)
        psutil.wait_procs(alive, timeout=5.0)


def _signal(proc: psutil.Process, terminate: bool) -> None:
    try:
        if terminate:
            proc.terminate()
        else:
            proc.kill()
    except psutil.NoSuchProcess:
        pass


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def tail(path: str | Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file ("" when it cannot be read)."""
    try:
        with Path(path).open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])
