"""A guard process per job process: it stops the job's process group if the service dies first.

A job runs in its own session (its own process group), so neither the executor's SIGKILL of the
service's group nor the service's ``PR_SET_PDEATHSIG`` reaches it: without a guard, a service
killed hard (after the executor's 3 s SIGTERM grace, an OOM kill, a crashed executor manager)
would leave the job running with nobody reading its output.

The guard is a tiny isolated interpreter (``python -I -S``, ~20 ms to start) in a session of its
own, holding the read end of a pipe whose write end only the service holds. When the job process
ends under the service's control, :meth:`Guard.release` writes one byte and the guard exits. When
the service dies, the guard reads end-of-file instead: it sends SIGTERM to the job's process
group and SIGKILL after ``grace`` seconds (polling every 50 ms for the group to be gone; nothing
else tells a process that another's group ended).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time

_GUARD = """\
import os, signal, sys, time
fd, pgid, grace = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
try:
    released = os.read(fd, 1)
except OSError:
    released = b""
if released:
    sys.exit(0)
def alive():
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
try:
    os.killpg(pgid, signal.SIGTERM)
except OSError:
    sys.exit(0)
deadline = time.monotonic() + grace
while alive() and time.monotonic() < deadline:
    time.sleep(0.05)
try:
    os.killpg(pgid, signal.SIGKILL)
except OSError:
    pass
"""

__all__ = ["Guard"]


class Guard:
    """The guard of process group ``pgid`` (see the module docstring); call :meth:`release` when
    the job process has ended and its group has been dealt with."""

    def __init__(self, pgid: int, grace: float) -> None:
        read_end, self._write_end = os.pipe()
        try:
            self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _GUARD, str(read_end), str(pgid), f"{grace:g}"],
                pass_fds=(read_end,),
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            self._proc = None  # no guard: the job still runs, only without this safety net
        finally:
            os.close(read_end)

    @property
    def pid(self) -> int | None:
        """The guard process's pid (None when it could not start)."""
        return None if self._proc is None else self._proc.pid

    def release(self) -> None:
        """Tell the guard the job ended normally; it exits without touching the group."""
        with contextlib.suppress(OSError):
            os.write(self._write_end, b"x")
        with contextlib.suppress(OSError):
            os.close(self._write_end)
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(5)


def group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs. Zombies do not count: orphans wait for
    init to reap them, which can take a second."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    import psutil

    for pid in psutil.pids():
        with contextlib.suppress(OSError, psutil.Error):
            if os.getpgid(pid) == pgid and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return True
    return False


def signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def wait_group_gone(pgid: int, deadline: float) -> None:
    """Poll until the group has no process or ``deadline`` (monotonic) passes; nothing signals the
    end of processes that are not our children, so this polls (every 20 ms)."""
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.02)
