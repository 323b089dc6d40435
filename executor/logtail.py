"""The last lines a service process wrote to its log (for bind/crash messages)."""

from __future__ import annotations

import os
from pathlib import Path

_MAX_BYTES = 16 * 1024


def tail(path: Path, since: int = 0, lines: int = 20) -> str:
    """The last ``lines`` lines of ``path`` written after byte offset ``since`` ("" if none)."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            start = max(since, size - _MAX_BYTES)
            fh.seek(start)
            data = fh.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.rstrip().splitlines()[-lines:])


def with_tail(message: str, path: Path, since: int = 0) -> str:
    """``message`` plus the stderr tail, when there is one."""
    text = tail(path, since)
    if not text:
        return f"{message} (stderr empty: {path})"
    return f"{message}\n--- last lines of {path} ---\n{text}"
