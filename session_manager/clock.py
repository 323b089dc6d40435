"""Time sources, injectable so the core stays deterministic in tests."""

from __future__ import annotations

import time
from dataclasses import dataclass


class Clock:
    def ms(self) -> int:
        """Wall-clock milliseconds since the Unix epoch (the wire's timestamps)."""
        return time.time_ns() // 1_000_000

    def mono(self) -> float:
        """Monotonic seconds, for timers."""
        return time.monotonic()


@dataclass
class FakeClock(Clock):
    now_ms: int = 1_700_000_000_000
    now_mono: float = 1000.0

    def ms(self) -> int:
        return self.now_ms

    def mono(self) -> float:
        return self.now_mono

    def advance(self, seconds: float) -> None:
        self.now_mono += seconds
        self.now_ms += int(seconds * 1000)
