"""Bounded input, shared by the servers and the SDK: how a value is quoted in an error, the error
for a request that asks for more than a server takes at once, and the defaults both sides agree on.

A value quoted in an error is cut to :data:`QUOTE_CHARS` characters (with an ellipsis and its full
length), so an error never echoes unbounded input back to the caller or into a log line.
"""

from __future__ import annotations

from flamepy.errors import InvalidArgumentError

QUOTE_CHARS = 64  # characters of a rejected value shown in an error
MAX_DETAILS_CHARS = 2048  # the most of an error message a server sends back
# tasks one CreateTasks call may carry (the session manager's default; the SDK chunks under it)
DEFAULT_MAX_TASKS_PER_REQUEST = 10_000


class LimitExceededError(InvalidArgumentError):
    """A request carries more than the server accepts at once (RESOURCE_EXHAUSTED on the wire);
    nothing of it was applied, so the same work split into smaller requests is safe to send."""


def quote(value: object, most: int = QUOTE_CHARS) -> str:
    """``repr(value)``, cut to about ``most`` characters: ``'xxxx…' (1048576 chars)``."""
    if isinstance(value, str | bytes) and len(value) > most:
        unit = "chars" if isinstance(value, str) else "bytes"
        return f"{value[:most]!r}… ({len(value)} {unit})"
    text = repr(value)
    return text if len(text) <= most + 2 else text[:most] + "…"


def clip(text: str, most: int = MAX_DETAILS_CHARS) -> str:
    """``text`` when short enough, else its head and tail around an ellipsis (``most`` chars)."""
    if len(text) <= most:
        return text
    half = max((most - 3) // 2, 1)
    return f"{text[:half]} … {text[-half:]}"
