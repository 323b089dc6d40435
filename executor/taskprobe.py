"""Measuring a running job task on this node for ``GetTaskStats`` (``StatsRequest`` → ``StatsData``).

The job's process is found from its state file in the node's log index
(:mod:`flamepy.apps.jobstate`: the job runner writes it when it starts the process, in a process
group of its own); the job's processes are that group. CPU is sampled over ``sample_s`` (psutil's
per-process CPU times; 100 = one core), memory is the resident set, both summed over the group.
GPUs are the indexes of the job's ``CUDA_VISIBLE_DEVICES``: NVML (nvidia-ml-py) gives each one's
utilisation, total memory and what the group's processes hold on it; without NVML (no driver, an
error) or on a fake GPU inventory (``FLAME_FAKE_GPUS``: nothing real to measure) only the indexes
are reported. Nothing here raises for what the node lacks.

Concurrency model: blocking (process table, a short CPU sample, NVML); the node session runs
:func:`measure` in a worker thread, never on the event loop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Any

import psutil

from executor.events import StatsData, StatsRequest
from flamepy.apps.jobstate import JobState, read_state, state_path
from flamepy.taskprobe import GpuStats, TaskStats

log = logging.getLogger(__name__)
CPU_SAMPLE_S = 0.3
_CREATE_TIME_SLACK_S = 0.05


def find_job(root: Path, session_id: str, task_id: str) -> tuple[JobState | None, str]:
    """The task's job state on this node, or None and why."""
    label = f"task {session_id}/{task_id}"
    try:
        path = state_path(root, session_id, task_id)
    except ValueError as exc:
        return None, f"{label}: {exc}"
    state = read_state(path)
    if state is None:
        return None, f"{label} has no running job on this node"
    return state, ""


def group_processes(state: JobState) -> list[psutil.Process]:
    """The live processes of the job's process group; empty once the job has ended (a pid reused
    by another process since is not the job: its start time differs)."""
    with contextlib.suppress(psutil.Error):
        leader = psutil.Process(state.pid)
        if abs(leader.create_time() - state.create_time) > _CREATE_TIME_SLACK_S:
            return []
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == state.pid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc)
        except (OSError, psutil.Error):
            continue
    return members


def measure(root: Path, req: StatsRequest, fake_gpus: bool, sample_s: float = CPU_SAMPLE_S) -> StatsData:
    """The task's :class:`TaskStats` (``not_found`` when it has no job state here)."""
    state, why = find_job(root, req.session_id, req.task_id)
    if state is None:
        return StatsData(req.request_id, not_found=True, error=why)
    procs = group_processes(state)
    if not procs:
        return StatsData(req.request_id, TaskStats(node="", running=False))
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.cpu_percent(None)
    time.sleep(sample_s)  # the CPU sampling window (a measurement, not a wait for anything)
    cpu, rss, pids = 0.0, 0, []
    for proc in procs:
        try:
            cpu += proc.cpu_percent(None)
            rss += proc.memory_info().rss
            pids.append(proc.pid)
        except psutil.Error:
            continue
    gpus = tuple(GpuStats(i) for i in state.gpus) if fake_gpus else gpu_stats(state.gpus, set(pids))
    stats = TaskStats("", tuple(sorted(pids)), round(cpu, 1), rss, gpus, running=bool(pids))
    return StatsData(req.request_id, stats)


def gpu_stats(indexes: tuple[int, ...], pids: set[int]) -> tuple[GpuStats, ...]:
    """NVML's numbers for each GPU index; indexes alone when NVML cannot answer."""
    if not indexes:
        return ()
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception as exc:  # no nvidia-ml-py, no driver: indexes only
        log.debug("no NVML (%s): GPU indexes without numbers", exc)
        return tuple(GpuStats(i) for i in indexes)
    try:
        return tuple(_one_gpu(pynvml, i, pids) for i in indexes)
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()


def _one_gpu(nvml: Any, index: int, pids: set[int]) -> GpuStats:
    try:
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        util = float(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        total = int(nvml.nvmlDeviceGetMemoryInfo(handle).total)
        used = 0
        for get in (nvml.nvmlDeviceGetComputeRunningProcesses, nvml.nvmlDeviceGetGraphicsRunningProcesses):
            for p in get(handle):
                if p.pid in pids and p.usedGpuMemory is not None:
                    used += int(p.usedGpuMemory)
    except Exception as exc:  # an NVML error on one device: its index without numbers
        log.debug("NVML failed for GPU %d: %s", index, exc)
        return GpuStats(index)
    return GpuStats(index, util, used, total)
