"""The client side of a job's upload: the working directory as one archive in the object cache.

:func:`upload_directory` selects the files with :func:`flamepy.runner.package.collect_files`
(VCS folders, virtualenvs and caches left out, then the ``excludes`` — the job's plus the context's
``package.excludes`` — and the root's ``.flameignore``/``.gitignore``), hashes them
(:func:`~flamepy.runner.package.package_digest`: paths, executable bits, contents) and stores one
deterministic ``.tar.gz`` under ``flmexec/uploads/<digest>`` in the object cache — the store the
Runner keeps its packages in. An identical directory already there is not sent again. The node
side (:mod:`flamepy.apps.jobfiles`) fetches and unpacks it once per job per node.

:func:`upload_root` says which directory that is for a job: the directory ``flmctl run`` was
started in when the job's ``workdir`` lies inside it (the task then runs in the matching
subdirectory of the copy), else the ``workdir`` itself.

Progress and warnings go to an :class:`UploadReporter` (the CLI draws a progress bar on a
terminal); the default one logs. Synchronous, no threads.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from flamepy.errors import InvalidArgumentError, NotFoundError
from flamepy.runner.package import build_archive, collect_files, package_digest

if TYPE_CHECKING:
    from flamepy.cache.client import CacheClient
    from flamepy.jobs.spec import JobSpec

log = logging.getLogger(__name__)

UPLOAD_PREFIX = "flmexec/uploads"
WARN_BYTES = 100 * 1024**2  # above this an upload warns: probably data that belongs in .flameignore

__all__ = ["UPLOAD_PREFIX", "WARN_BYTES", "LogReporter", "Upload", "UploadReporter", "upload_directory",
           "upload_file", "upload_root"]  # fmt: skip


@dataclass(frozen=True)
class Upload:
    """One uploaded directory: its cache ``key``, content ``digest``, how many ``files`` of how
    many bytes (``size``), and the archive bytes actually ``sent`` (0: it was already there)."""

    key: str
    digest: str
    files: int
    size: int
    sent: int


class UploadReporter(Protocol):
    """Where an upload tells its progress: ``start`` (archive bytes to send), ``advance`` (bytes
    sent since the last call), ``finish``; ``warn`` for a sentence about the upload."""

    def warn(self, message: str) -> None: ...
    def start(self, total: int, what: str) -> None: ...
    def advance(self, sent: int) -> None: ...
    def finish(self) -> None: ...


class LogReporter:
    """The default reporter: warnings and the start to the log, no progress."""

    def warn(self, message: str) -> None:
        log.warning("%s", message)

    def start(self, total: int, what: str) -> None:
        log.info("uploading %s (%d bytes)", what, total)

    def advance(self, sent: int) -> None:
        pass

    def finish(self) -> None:
        pass


def upload_root(spec: JobSpec, cwd: str | None = None) -> tuple[str, str]:
    """``(directory to upload, the task's working directory relative to it, POSIX)`` for ``spec``
    submitted from ``cwd`` (default: the current directory)."""
    here = os.path.abspath(cwd or os.getcwd())
    rel = os.path.relpath(spec.workdir, here)
    if rel == os.curdir:
        return here, "."
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        return spec.workdir, "."
    return here, Path(rel).as_posix()


def _client(client: CacheClient | None) -> CacheClient:
    if client is not None:
        return client
    from flamepy.cache import client_for

    return client_for()


def _size_text(num: int) -> str:
    return f"{num / 1024**2:.1f} MiB" if num >= 1024**2 else f"{num / 1024:.1f} KiB"


def upload_file(client: CacheClient, key: str, archive: Path, reporter: UploadReporter, what: str) -> int:
    """Send ``archive`` to ``key`` with progress; the bytes sent."""
    total = archive.stat().st_size
    reporter.start(total, what)
    try:
        client.upload_object(key, archive, progress=reporter.advance)
    finally:
        reporter.finish()
    return total


def upload_directory(
    root: str | os.PathLike[str],
    excludes: Sequence[str] = (),
    *,
    client: CacheClient | None = None,
    reporter: UploadReporter | None = None,
) -> Upload:
    """Upload ``root``'s files (see the module docstring) unless the same content is there."""
    report = reporter or LogReporter()
    base = Path(root)
    files = collect_files(base, excludes)
    size = sum(f.size for f in files)
    if size > WARN_BYTES:
        report.warn(
            f"uploading {_size_text(size)} in {len(files)} files from {base}: exclude data and "
            "outputs with .flameignore (gitignore syntax) or pass --no-upload on a shared filesystem"
        )
    try:
        digest = package_digest(base, files)
    except OSError as exc:
        raise InvalidArgumentError(f"cannot upload {base}: {exc}") from exc
    key = f"{UPLOAD_PREFIX}/{digest}"
    cache = _client(client)
    try:
        cache.stat(key)
        return Upload(key, digest, len(files), size, sent=0)
    except NotFoundError:
        pass
    with tempfile.TemporaryDirectory(prefix="flame-upload-") as tmp:
        try:
            archive = build_archive(base, files, Path(tmp) / "upload.tar.gz")
        except OSError as exc:
            raise InvalidArgumentError(f"cannot upload {base}: {exc}") from exc
        what = f"{base} ({len(files)} files, {_size_text(size)})"
        sent = upload_file(cache, key, archive, report, what)
    return Upload(key, digest, len(files), size, sent=sent)
