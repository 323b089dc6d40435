"""What a failed storage commit means for the caller: one function from the raw error (sqlite3 or
OS) to the error tree.

* out of space — SQLite's ``SQLITE_FULL`` ("database or disk is full"), ``ENOSPC``, ``EDQUOT``:
  :class:`~flamepy.errors.ResourceExhaustedError` (RESOURCE_EXHAUSTED on the wire);
* anything else the disk says — I/O errors, a read-only file system or database, a file that
  cannot be opened: :class:`~flamepy.errors.UnavailableError` (UNAVAILABLE).

The message names the cause and says that nothing of the request was stored.
"""

from __future__ import annotations

import errno
import sqlite3

from flamepy.errors import FlameError, ResourceExhaustedError, UnavailableError

SQLITE_FULL = 13
_OUT_OF_SPACE = {errno.ENOSPC, errno.EDQUOT}


def out_of_space(exc: BaseException) -> bool:
    """Does ``exc`` say the disk (or the quota) is full?"""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF == SQLITE_FULL
        return "full" in str(exc)
    return isinstance(exc, OSError) and exc.errno in _OUT_OF_SPACE


def storage_error(exc: BaseException) -> FlameError:
    """The error every caller waiting on a failed commit gets (raised ``from exc`` by the caller)."""
    cause = f"{type(exc).__name__}: {exc}"
    if out_of_space(exc):
        return ResourceExhaustedError(
            f"the session manager's storage is full ({cause}); nothing of this request was stored"
        )
    return UnavailableError(
        f"the session manager's storage failed ({cause}); nothing of this request was stored"
    )
