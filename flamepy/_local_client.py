"""Old home of the same-host RunTask client; it lives in :mod:`flamepy.transport.local` now."""

from __future__ import annotations

from flamepy.transport.local import LocalRunner

__all__ = ["LocalRunner"]
