"""Owner-only files and directories: tokens, certificates, job state, dev state.

Concurrency model: synchronous. A file is written under a unique temporary name that already has
its final mode (0600) and then renamed over the target, so a reader sees the old file or the
whole new one, and no other user can open it at any moment.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


def make_private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner may enter (0700), created when absent."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != 0o700:
        path.chmod(0o700)
    return path


def write_private(path: Path, data: bytes | str) -> None:
    """Write ``data`` (text as UTF-8) to ``path`` as an owner-only (0600) file, atomically."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
