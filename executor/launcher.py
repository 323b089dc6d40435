"""Starting and stopping service processes, behind a small interface.

:class:`Launcher` starts a :class:`ServiceProcess` from a :class:`LaunchSpec`;
:class:`SubprocessLauncher` is the real one (asyncio subprocesses, each in its own process group,
with ``PR_SET_PDEATHSIG=SIGKILL`` on Linux so service processes die with a SIGKILLed manager);
``executor.fake_launcher`` is the in-process fake for unit tests. Everything runs on the manager's
single asyncio event loop; waiting for exit is ``await process.wait()``, never polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

# How long a process group gets to be reaped after SIGKILL before it is given up on (a process in
# uninterruptible sleep, D state, outlives SIGKILL): the executor is released anyway.
REAP_AFTER_KILL_S = 5.0


class LaunchError(Exception):
    """The process could not be started at all (command missing, not executable, bad cwd...)."""


@dataclass(frozen=True)
class LaunchSpec:
    command: str
    arguments: tuple[str, ...]
    env: Mapping[str, str] = field(repr=False)
    cwd: Path
    stdout_path: Path
    stderr_path: Path


class ServiceProcess(Protocol):
    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int:
        """Wait for the process to exit; its exit code (negative = killed by that signal)."""
        ...

    async def terminate(self, grace: float) -> int:
        """SIGTERM the whole process group, SIGKILL it after ``grace`` seconds; the exit code (-9
        when the process outlives SIGKILL too: it returns anyway, after a bounded wait)."""
        ...


class Launcher(Protocol):
    async def start(self, spec: LaunchSpec) -> ServiceProcess: ...


# -- subprocess implementation ---------------------------------------------------------------

# PR_SET_PDEATHSIG must be set in the child between fork and exec. A Python ``preexec_fn`` is not
# safe there: the manager is multi-threaded (gRPC), and the forked child crashed with SIGSEGV in
# tests. Instead the child execs this tiny isolated interpreter, which sets the flag for itself,
# checks its parent is still the manager (closing the race with a manager that died meanwhile),
# and execs the real command in place (same pid, same process group).
_PDEATHSIG_EXEC = """\
import ctypes, os, signal, sys
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
if os.getppid() != int(sys.argv[1]):
    os._exit(137)
try:
    os.execvp(sys.argv[2], sys.argv[2:])
except OSError as exc:
    sys.stderr.write("flame host shim: cannot exec %r: %s\\n" % (sys.argv[2], exc))
    os._exit(127)
"""


def _command_line(spec: LaunchSpec, pdeathsig: bool) -> list[str]:
    """The argv to exec: the command itself, or wrapped to set PR_SET_PDEATHSIG on Linux."""
    argv = [spec.command, *spec.arguments]
    if not pdeathsig:
        return argv
    return [sys.executable, "-I", "-S", "-c", _PDEATHSIG_EXEC, str(os.getpid()), *argv]


def _check_startable(spec: LaunchSpec) -> None:
    """Fail early and clearly for a missing command or working directory."""
    if not spec.cwd.is_dir():
        raise LaunchError(f"working directory {str(spec.cwd)!r} does not exist")
    if os.sep in spec.command:
        path = Path(spec.command) if os.path.isabs(spec.command) else spec.cwd / spec.command
        if not path.is_file():
            raise LaunchError(f"cannot start {spec.command!r}: no such file")
        if not os.access(path, os.X_OK):
            raise LaunchError(f"cannot start {spec.command!r}: not executable")
    elif shutil.which(spec.command, path=spec.env.get("PATH", os.defpath)) is None:
        raise LaunchError(f"cannot start {spec.command!r}: command not found on PATH")


class SubprocessService:
    """A started service process; its pid is also its process group id."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    async def wait(self) -> int:
        return await self._proc.wait()

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    async def terminate(self, grace: float) -> int:
        if self._proc.returncode is None:
            self._signal_group(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(self._proc.wait()), grace)
            except TimeoutError:
                log.warning("service process %d ignored SIGTERM for %.1fs: SIGKILL", self.pid, grace)
        # SIGKILL whatever is left of the group (the leader, or children it left behind)
        self._signal_group(signal.SIGKILL)
        try:
            return await asyncio.wait_for(asyncio.shield(self._proc.wait()), REAP_AFTER_KILL_S)
        except TimeoutError:
            log.error(
                "service process %d outlived SIGKILL by %.0fs (uninterruptible?): given up on",
                self.pid,
                REAP_AFTER_KILL_S,
            )
            return -9


class SubprocessLauncher:
    def __init__(self, pdeathsig: bool | None = None) -> None:
        self.pdeathsig = sys.platform.startswith("linux") if pdeathsig is None else pdeathsig

    async def start(self, spec: LaunchSpec) -> ServiceProcess:
        _check_startable(spec)
        spec.stdout_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(spec.stdout_path, "ab") as out, open(spec.stderr_path, "ab") as err:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *_command_line(spec, self.pdeathsig),
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    cwd=spec.cwd,
                    env=dict(spec.env),
                    start_new_session=True,
                )
            except OSError as exc:
                what = exc.strerror or str(exc)
                culprit = exc.filename if exc.filename is not None else spec.command
                raise LaunchError(f"cannot start {spec.command!r}: {what}: {culprit!r}") from exc
        log.info("started service process %d: %s", proc.pid, spec.command)
        return SubprocessService(proc)
