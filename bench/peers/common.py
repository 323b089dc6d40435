"""What every system's subprocess shares: workload sizes, the CPU spin, statistics, the result file.

A system subprocess is started as ``python -m bench.peers.sys_<name> PARAMS_JSON OUT_JSON``; it calls
:func:`record` after each measurement, so a subprocess that is killed at its deadline still leaves
what it measured so far.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


@dataclass(frozen=True)
class Params:
    """Sizes of every workload; :meth:`full` is the issue's list, :meth:`quick` a smoke run."""

    repeats: int = 3
    tput_n: int = 20_000  # (1) no-op tasks submitted and gathered
    lat_n: int = 2_000  # (2) sequential round trips
    fan_n: int = 2_000  # (3) tasks of spin_us of CPU each
    spin_us: int = 1_000
    payload_n: int = 200  # (4) tasks with payload_bytes in and out
    payload_bytes: int = MIB
    object_mib: tuple[int, ...] = (64, 512)  # (4) object put/get
    cold_n: int = 3  # (5) cold / warm session starts
    scale_n: int = 200_000  # (6) queued tasks in one session
    sessions_n: int = 1_000  # (6) concurrent sessions
    sessions_run_n: int = 100  # (6) of those, how many get one task each
    wire_tput_n: int = 5_000  # (7) the independent client's throughput run (it is slow)
    wire_inflight: int = 256  # (7) outstanding RPCs of the independent client
    budget_s: float = 40.0  # no further repeat of a workload once it has taken this long
    quick: bool = False

    @classmethod
    def full(cls) -> Params:
        return cls()

    @classmethod
    def quick_run(cls) -> Params:
        return cls(
            repeats=2,
            tput_n=1_000,
            lat_n=200,
            fan_n=200,
            payload_n=20,
            object_mib=(64,),
            cold_n=2,
            scale_n=10_000,
            sessions_n=50,
            sessions_run_n=10,
            wire_tput_n=1_000,
            budget_s=6.0,
            quick=True,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Params:
        doc = dict(doc)
        doc["object_mib"] = tuple(doc.get("object_mib", ()))
        return cls(**doc)

    def rounds(self) -> Iterator[int]:
        """Repeat numbers of one workload: at most ``repeats``, and no new one after ``budget_s``."""
        start = time.perf_counter()
        for i in range(self.repeats):
            if i and time.perf_counter() - start > self.budget_s:
                return
            yield i

    @property
    def ideal_fan_s(self) -> float:
        """The fan-out's lower bound: all the work spread over the 2 cores."""
        return self.fan_n * self.spin_us / 1e6 / 2


def spin(us: int) -> None:
    """Burn ``us`` microseconds of this thread's CPU time (not wall time: a descheduled spin still
    does the same work)."""
    end = time.thread_time() + us / 1e6
    while time.thread_time() < end:
        pass


def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty collection."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    idx = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[idx]


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def latencies_ms(call: Callable[[], object], n: int) -> list[float]:
    """``n`` sequential calls (after one warm-up call), each timed in milliseconds."""
    call()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


@dataclass
class Recorder:
    """Raw measurements of one system subprocess: ``{row: {column: [value per repeat]}}``."""

    path: Path
    system: str
    values: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def add(self, row: str, column: str, value: float) -> None:
        self.values.setdefault(row, {}).setdefault(column, []).append(float(value))
        self.flush()

    def note(self, key: str, text: str) -> None:
        self.notes[key] = text
        self.flush()

    def flush(self) -> None:
        doc = {"system": self.system, "values": self.values, "notes": self.notes, "meta": self.meta}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, indent=1))
        os.replace(tmp, self.path)


def parse_argv(system: str) -> tuple[Params, Recorder]:
    """``python -m bench.peers.sys_X PARAMS_JSON OUT_JSON``."""
    if len(sys.argv) != 3:
        raise SystemExit(f"usage: python -m bench.peers.sys_{system} PARAMS_JSON OUT_JSON")
    params = Params.from_json(json.loads(sys.argv[1]))
    return params, Recorder(Path(sys.argv[2]), system)


def log(system: str, text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {system}: {text}", file=sys.stderr, flush=True)
