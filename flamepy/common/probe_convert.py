"""Wire conversion of :mod:`flamepy.taskprobe` (``TaskStats``, ``ExecChunk``), both sides."""

from __future__ import annotations

from flamepy.proto import extensions_pb2 as ext_pb
from flamepy.taskprobe import ExecChunk, GpuStats, TaskStats


def _gpu_to_pb(g: GpuStats) -> ext_pb.GpuStats:
    m = ext_pb.GpuStats(index=g.index)
    if g.util_percent is not None:
        m.util_percent = g.util_percent
    if g.memory_used_bytes is not None:
        m.memory_used_bytes = g.memory_used_bytes
    if g.memory_total_bytes is not None:
        m.memory_total_bytes = g.memory_total_bytes
    return m


def _gpu_from_pb(m: ext_pb.GpuStats) -> GpuStats:
    def opt(name: str) -> int | float | None:
        return getattr(m, name) if m.HasField(name) else None

    used, total = opt("memory_used_bytes"), opt("memory_total_bytes")
    return GpuStats(
        m.index,
        opt("util_percent"),
        None if used is None else int(used),
        None if total is None else int(total),
    )


def stats_to_pb(s: TaskStats) -> ext_pb.TaskStats:
    return ext_pb.TaskStats(
        node=s.node,
        pids=list(s.pids),
        cpu_percent=s.cpu_percent,
        rss_bytes=s.rss_bytes,
        gpus=[_gpu_to_pb(g) for g in s.gpus],
        running=s.running,
    )


def stats_from_pb(m: ext_pb.TaskStats) -> TaskStats:
    gpus = tuple(_gpu_from_pb(g) for g in m.gpus)
    return TaskStats(m.node, tuple(m.pids), m.cpu_percent, m.rss_bytes, gpus, m.running)


def chunk_to_pb(c: ExecChunk) -> ext_pb.ExecChunk:
    return ext_pb.ExecChunk(data=c.data, done=c.done, exit_code=c.exit_code, note=c.note, node=c.node)


def chunk_from_pb(m: ext_pb.ExecChunk) -> ExecChunk:
    return ExecChunk(m.data, m.done, m.exit_code, m.note, m.node)
