"""Capped exponential backoff delays (pure)."""

from __future__ import annotations


class Backoff:
    def __init__(self, initial: float = 0.2, maximum: float = 5.0, factor: float = 2.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self._next = initial

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * self.factor, self.maximum)
        return delay

    def reset(self) -> None:
        self._next = self.initial
