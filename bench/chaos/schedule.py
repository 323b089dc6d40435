"""The seeded kill schedule and the thread that carries it out.

:func:`make_schedule` draws ``count`` kills from ``random.Random(seed)``: each a time in the
workload window and a kind; which executor manager or service process dies is drawn at kill time
from a second generator seeded the same way (the candidates are sorted, so a run is repeatable as
far as the processes alive at that moment are). :class:`Chaos` waits for each kill time on an
``Event`` (so :meth:`Chaos.stop` interrupts it at once) and stops at its deadline.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.chaos.cluster import ChaosCluster

log = logging.getLogger(__name__)

SESSION_MANAGER = "session manager"
EXECUTOR_MANAGER = "executor manager"
SERVICE = "service"
KINDS = {"sm": SESSION_MANAGER, "em": EXECUTOR_MANAGER, "svc": SERVICE}


@dataclass(frozen=True)
class Kill:
    at: float  # seconds after the workload started
    kind: str


def make_schedule(seed: int, count: int, kinds: Sequence[str], window: float) -> list[Kill]:
    """``count`` kills at seeded random times in [5% .. 95%] of ``window``, sorted by time."""
    rng = random.Random(seed)
    kills = [Kill(round(rng.uniform(0.05, 0.95) * window, 2), rng.choice(list(kinds))) for _ in range(count)]
    return sorted(kills, key=lambda k: k.at)


@dataclass
class ChaosLog:
    done: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)  # nothing to kill / past the deadline
    failed: list[str] = field(default_factory=list)  # a kill or restart that raised
    lines: list[str] = field(default_factory=list)


class Chaos(threading.Thread):
    """Carries out ``schedule`` against ``cluster`` from ``start`` (monotonic) until ``deadline``."""

    def __init__(
        self, cluster: ChaosCluster, schedule: list[Kill], seed: int, start: float, deadline: float
    ) -> None:
        super().__init__(name="chaos", daemon=True)
        self.cluster, self.schedule = cluster, schedule
        self.start_at, self.deadline = start, deadline
        self.rng = random.Random(seed)
        self.log = ChaosLog()
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def run(self) -> None:
        for kill in self.schedule:
            when = self.start_at + kill.at
            if when >= self.deadline or self._stop_event.wait(max(0.0, when - time.monotonic())):
                self.log.skipped[kill.kind] += 1
                continue
            self._kill(kill)

    def _kill(self, kill: Kill) -> None:
        t = time.monotonic() - self.start_at
        try:
            if kill.kind == SESSION_MANAGER:
                what: str | None = self.cluster.kill_session_manager()
            elif kill.kind == EXECUTOR_MANAGER:
                what = self.cluster.kill_executor_manager(self.rng)
            else:
                what = self.cluster.kill_service(self.rng)
        except Exception as exc:  # a failed restart is a finding to report, not a crash of the bench
            self.log.failed.append(f"{kill.kind} at {t:.1f}s: {exc}")
            log.warning("chaos: %s kill at %.1fs failed: %s", kill.kind, t, exc)
            return
        if what is None:
            self.log.skipped[kill.kind] += 1
            self.log.lines.append(f"{t:6.1f}s  {kill.kind}: nothing to kill")
            return
        self.log.done[kill.kind] += 1
        self.log.lines.append(f"{t:6.1f}s  kill -9 {what}")
