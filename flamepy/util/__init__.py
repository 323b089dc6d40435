"""Small helpers shared by the SDK (``flamepy.util.short_name`` is flamepy 0.6.0's name)."""

from __future__ import annotations

import secrets
import string

__all__ = ["short_name"]

_ALPHABET = string.ascii_letters + string.digits


def short_name(prefix: str, length: int = 6) -> str:
    """``<prefix>-<length random letters and digits>``: the default id of a new session."""
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be a positive integer, got {length!r}")
    return f"{prefix}-{''.join(secrets.choice(_ALPHABET) for _ in range(length))}"
