"""Running a command beside a running job task for ``ExecInTask`` (``ExecRequest`` → ``ExecOutput`` s).

The command runs on this node in the task's working directory with the task's environment (both
from the job's state file, :mod:`flamepy.apps.jobstate`; ``CUDA_VISIBLE_DEVICES`` included), in a
process group of its own, stdin closed, stdout and stderr together. Its output goes back as it
comes, at most :data:`~flamepy.taskprobe.EXEC_CHUNK_BYTES` a message and
:data:`~flamepy.taskprobe.EXEC_MAX_OUTPUT_BYTES` in all (the rest is read and dropped, and the last
message says so); the last message has ``done`` and the exit code (``128 + n`` for a signal). Past
its timeout, or when the session manager stops it (its caller went away) or the node's stream
ends, the command's process group is killed (timeout: exit code 124).

Concurrency model: one asyncio task per command on the node session's loop (pipes through
asyncio's subprocess support; the small state file is read in a worker thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path

from executor.events import ExecOutput, ExecRequest, OutboundMessage
from executor.taskprobe import find_job, group_processes
from flamepy.apps.jobstate import JobState
from flamepy.taskprobe import (
    EXEC_CHUNK_BYTES,
    EXEC_DEFAULT_TIMEOUT_S,
    EXEC_MAX_OUTPUT_BYTES,
    EXEC_TIMEOUT_EXIT_CODE,
    ExecChunk,
)

NOT_STARTED_EXIT_CODE = 125
log = logging.getLogger(__name__)


class Execs:
    """The commands running on this node for ``ExecInTask``, by request id."""

    def __init__(self, root: Path, emit: Callable[[OutboundMessage], None]) -> None:
        self._root = root
        self._emit = emit
        self._running: dict[int, asyncio.Task[None]] = {}

    def start(self, req: ExecRequest) -> None:
        task = asyncio.get_running_loop().create_task(self._run(req))
        self._running[req.request_id] = task
        task.add_done_callback(lambda _t: self._running.pop(req.request_id, None))

    async def _run(self, req: ExecRequest) -> None:
        try:
            await run_exec(self._root, req, self._emit)
        except Exception as exc:  # answer anyway: the session manager waits for the end
            log.exception("exec beside task %s/%s", req.session_id, req.task_id)
            self._emit(_end(req, error=f"exec failed: {type(exc).__name__}: {exc}"))

    def stop(self, request_id: int) -> None:
        """Kill the command (its group) if it still runs; it answers nothing more."""
        task = self._running.get(request_id)
        if task is not None:
            task.cancel()

    def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()


def _end(
    req: ExecRequest, *, not_found: bool = False, not_running: bool = False, error: str = ""
) -> ExecOutput:
    chunk = ExecChunk(done=True, exit_code=NOT_STARTED_EXIT_CODE)
    return ExecOutput(req.request_id, chunk, not_found, not_running, error)


async def run_exec(root: Path, req: ExecRequest, emit: Callable[[OutboundMessage], None]) -> None:
    """Run the command of ``req`` to its end, emitting its output and then its exit code."""
    state, why = await asyncio.to_thread(find_job, root, req.session_id, req.task_id)
    if state is None:
        emit(_end(req, not_found=True, error=why))
        return
    if not req.argv:
        emit(_end(req, error="no command to run"))
        return
    if not Path(state.cwd).is_dir():
        emit(_end(req, error=f"the job's working directory {state.cwd!r} is gone"))
        return
    if not await asyncio.to_thread(group_processes, state):
        emit(_end(req, not_running=True, error=f"the job of task {req.session_id}/{req.task_id} has ended"))
        return
    try:
        proc = await _spawn(req, state)
    except OSError as exc:
        code = 127 if isinstance(exc, FileNotFoundError) else 126
        text = f"flame exec: cannot run {req.argv[0]!r}: {exc.strerror or exc}\n".encode()
        emit(ExecOutput(req.request_id, ExecChunk(text, done=True, exit_code=code)))
        return
    try:
        code, note = await _pump(req, proc, emit)
    finally:
        if proc.returncode is None:  # cancelled (stop, stream closed): nothing more is sent
            _kill_group(proc.pid)
            with contextlib.suppress(ProcessLookupError):
                await asyncio.shield(proc.wait())
    emit(ExecOutput(req.request_id, ExecChunk(done=True, exit_code=code, note=note)))


async def _spawn(req: ExecRequest, state: JobState) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *req.argv,
        cwd=state.cwd,
        env=state.env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )


async def _pump(
    req: ExecRequest, proc: asyncio.subprocess.Process, emit: Callable[[OutboundMessage], None]
) -> tuple[int, str]:
    """Forward the output until the pipe closes and the command exits (or the timeout)."""
    assert proc.stdout is not None
    timeout = req.timeout_s or EXEC_DEFAULT_TIMEOUT_S
    sent, note = 0, ""
    try:
        async with asyncio.timeout(timeout):
            while piece := await proc.stdout.read(EXEC_CHUNK_BYTES):
                if sent < EXEC_MAX_OUTPUT_BYTES:
                    piece = piece[: EXEC_MAX_OUTPUT_BYTES - sent]
                    sent += len(piece)
                    emit(ExecOutput(req.request_id, ExecChunk(piece)))
                    if sent >= EXEC_MAX_OUTPUT_BYTES:
                        note = f"output past {EXEC_MAX_OUTPUT_BYTES >> 20} MiB was dropped"
            returncode = await proc.wait()
    except TimeoutError:
        _kill_group(proc.pid)
        await proc.wait()
        return EXEC_TIMEOUT_EXIT_CODE, f"timed out after {timeout:g}s: killed"
    return (128 - returncode if returncode < 0 else returncode), note


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
