"""Monte-Carlo π service: input JSON ``{"samples": N, "seed": s}`` → output the number of random
points of the unit square that fall inside the quarter circle, as decimal text (e.g. ``b"78530"``).

Deterministic for a given seed. Run by the executor as ``python service.py``.
"""

from __future__ import annotations

import json
import random

import flamepy
from flamepy.service import SessionContext, TaskContext

MAX_SAMPLES = 100_000_000


def count_inside(samples: int, seed: int) -> int:
    rng = random.Random(seed)
    draw = rng.random
    inside = 0
    for _ in range(samples):
        x, y = draw(), draw()
        if x * x + y * y <= 1.0:
            inside += 1
    return inside


def parse_request(data: bytes | None) -> tuple[int, int]:
    """``{"samples": N, "seed": s}`` → ``(N, s)``; a ValueError names what is wrong."""
    if data is None:
        raise ValueError('pi task needs input {"samples": N, "seed": s}')
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise ValueError(f"pi task input is not JSON: {exc}") from None
    samples, seed = doc.get("samples"), doc.get("seed", 0)
    if not isinstance(samples, int) or not 0 < samples <= MAX_SAMPLES:
        raise ValueError(f"samples must be an integer in 1..{MAX_SAMPLES}, got {samples!r}")
    if not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    return samples, seed


class PiService(flamepy.FlameService):
    def on_session_enter(self, context: SessionContext) -> None:
        pass

    def on_task_invoke(self, context: TaskContext) -> bytes | None:
        samples, seed = parse_request(context.input)
        return str(count_inside(samples, seed)).encode()

    def on_session_leave(self) -> None:
        pass


if __name__ == "__main__":
    flamepy.run(PiService())
