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
import ctypes
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


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
        """SIGTERM the whole process group, SIGKILL it after ``grace`` seconds; the exit code."""
        ...


class Launcher(Protocol):
    async def start(self, spec: LaunchSpec) -> ServiceProcess: ...


# -- subprocess implementation ---------------------------------------------------------------

_PR_SET_PDEATHSIG = 1


def _pdeathsig_preexec() -> Callable[[], None] | None:
    """A preexec_fn that asks Linux to SIGKILL the child when its parent dies (None elsewhere).

    libc and the function pointer are resolved here, in the parent, so the child only makes one
    system call between fork and exec.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return preexec


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
        return await self._proc.wait()


class SubprocessLauncher:
    async def start(self, spec: LaunchSpec) -> ServiceProcess:
        spec.stdout_path.parent.mkdir(parents=True, exist_ok=True)
        with open(spec.stdout_path, "ab") as out, open(spec.stderr_path, "ab") as err:
            try:
                proc = await asyncio.create_subprocess_exec(
                    spec.command,
                    *spec.arguments,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    cwd=spec.cwd,
                    env=dict(spec.env),
                    start_new_session=True,
                    preexec_fn=_pdeathsig_preexec(),
                )
            except OSError as exc:
                what = exc.strerror or str(exc)
                culprit = exc.filename if exc.filename is not None else spec.command
                raise LaunchError(f"cannot start {spec.command!r}: {what}: {culprit!r}") from exc
        log.info("started service process %d: %s", proc.pid, spec.command)
        return SubprocessService(proc)
