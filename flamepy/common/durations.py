"""Durations as people write them: ``2h``, ``1h30m``, ``90s`` → ``1m30s``, ``2.5s``.

Used in task timeout messages (``timed out after 2h (attempt 1)``) by the executor manager and the
session manager alike, so both say the same thing.
"""

from __future__ import annotations

_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60))


def format_duration(seconds: float) -> str:
    """``7200`` → ``2h``, ``5400`` → ``1h30m``, ``2`` → ``2s``, ``2.5`` → ``2.5s``, ``0.25`` → ``0.25s``."""
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    whole = round(seconds)
    parts: list[str] = []
    for unit, size in _UNITS:
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    if whole:
        parts.append(f"{whole}s")
    return "".join(parts)
