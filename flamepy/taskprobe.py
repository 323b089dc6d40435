"""Looking into a running job task: its resource use and a command run beside it.

``FrontendExt.GetTaskStats`` answers a :class:`TaskStats` and ``FrontendExt.ExecInTask`` streams
:class:`ExecChunk` s; both are routed by the session manager to the node that runs the task, which
measures the job's process group or runs the command in the task's working directory with its
environment. Shared by the SDK (:meth:`flamepy.Connection.task_stats`,
:meth:`flamepy.Connection.exec_in_task`), the session manager and the executor manager.
"""

from __future__ import annotations

from dataclasses import dataclass

EXEC_DEFAULT_TIMEOUT_S = 600.0  # timeout_s 0
EXEC_MAX_TIMEOUT_S = 24 * 3600.0
EXEC_MAX_ARGS = 256
EXEC_MAX_ARGV_BYTES = 64 << 10
EXEC_MAX_OUTPUT_BYTES = 16 << 20  # output past it is dropped (ExecChunk.note says so)
EXEC_CHUNK_BYTES = 64 << 10  # the most one ExecChunk carries
EXEC_TIMEOUT_EXIT_CODE = 124

__all__ = [
    "EXEC_CHUNK_BYTES",
    "EXEC_DEFAULT_TIMEOUT_S",
    "EXEC_MAX_ARGS",
    "EXEC_MAX_ARGV_BYTES",
    "EXEC_MAX_OUTPUT_BYTES",
    "EXEC_MAX_TIMEOUT_S",
    "EXEC_TIMEOUT_EXIT_CODE",
    "ExecChunk",
    "GpuStats",
    "TaskStats",
]


@dataclass(frozen=True)
class GpuStats:
    """One GPU of the task (an index of ``CUDA_VISIBLE_DEVICES``). The numbers are None where
    unknown: no NVML on the node (no driver, an error) or a fake GPU inventory
    (``FLAME_FAKE_GPUS``), which has indexes but nothing to measure. ``memory_used_bytes`` is
    what the job's own processes hold on it; ``util_percent`` the whole device's."""

    index: int
    util_percent: float | None = None
    memory_used_bytes: int | None = None
    memory_total_bytes: int | None = None


@dataclass(frozen=True)
class TaskStats:
    """A job task's resource use now: its live processes (the job's process group), their CPU
    (percent of one core, summed) and resident memory (bytes, summed), its GPUs. ``running``
    False: the process group has ended (the other fields are then empty)."""

    node: str
    pids: tuple[int, ...] = ()
    cpu_percent: float = 0.0
    rss_bytes: int = 0
    gpus: tuple[GpuStats, ...] = ()
    running: bool = False


@dataclass(frozen=True)
class ExecChunk:
    """Output of a command run with ``ExecInTask``, as it comes (stdout and stderr together);
    the last chunk has ``done`` and the command's ``exit_code`` (124: killed at its timeout).
    ``note``: how it ended when not by itself (timeout, output bound), for the caller to show."""

    data: bytes = b""
    done: bool = False
    exit_code: int = 0
    note: str = ""
    node: str = ""
