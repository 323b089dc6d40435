"""The node side of a job's upload: fetch the archive from the object cache and unpack it, safely,
once per job per node, into ``<root>/<job id>/`` (``root``: ``<service cwd>/jobs``).

:meth:`JobFiles.install` takes the launch's ``archive`` key and its ``deltas`` (``flmctl dev``'s
later archives: changed files plus :data:`DELETED_MEMBER`, a JSON list of deleted paths). Under an
exclusive ``flock`` on ``<root>/.<job id>.lock`` (several tasks of an array on one node, or
several executors, share the copy) it reads ``<root>/.<job id>.json`` (which base archive the
folder holds and how many deltas were applied); a folder of another base (or none) is built in a
temporary folder and renamed into place (the rename is atomic: a task never sees half a copy);
then the deltas not applied yet are applied in order.

:func:`safe_extract` checks every member before writing anything: regular files and folders only
(no links, devices or FIFOs), relative names without ``..``, and extracts with tarfile's ``data``
filter as a second line. An archive that breaks a rule raises :class:`UnsafeArchiveError`.

Synchronous; callers are the job runner's task threads (the lock serialises them per job).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from flamepy.errors import InvalidArgumentError

DELETED_MEMBER = ".flame-deleted.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")

Fetch = Callable[[str, Path], None]

__all__ = ["DELETED_MEMBER", "JobFiles", "UnsafeArchiveError", "cache_fetch", "check_name", "safe_extract"]


class UnsafeArchiveError(InvalidArgumentError):
    """An uploaded archive has a member that could write outside its folder, or is not a file."""


def check_name(name: str) -> str:
    """``name`` as a safe relative POSIX path, or :class:`UnsafeArchiveError`."""
    if not name or "\0" in name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise UnsafeArchiveError(f"archive member {name!r}: an absolute or empty path")
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        raise UnsafeArchiveError(f"archive member {name!r}: a path with '..'")
    return posixpath.normpath(name.replace("\\", "/"))


def _members(tar: tarfile.TarFile) -> tuple[list[tarfile.TarInfo], list[str]]:
    """The members to extract, checked, and the deleted paths the archive lists."""
    keep: list[tarfile.TarInfo] = []
    deleted: list[str] = []
    for member in tar.getmembers():
        name = check_name(member.name)
        if not (member.isfile() or member.isdir()):
            raise UnsafeArchiveError(f"archive member {member.name!r}: not a regular file or folder")
        if name == DELETED_MEMBER:
            handle = tar.extractfile(member)
            doc = json.loads(handle.read()) if handle is not None else []
            if not isinstance(doc, list) or not all(isinstance(p, str) for p in doc):
                raise UnsafeArchiveError(f"{DELETED_MEMBER}: expected a list of paths")
            deleted = [check_name(p) for p in doc]
            continue
        keep.append(member)
    return keep, deleted


def safe_extract(archive: str | os.PathLike[str], dest: str | os.PathLike[str]) -> list[str]:
    """Unpack ``archive`` (``.tar.gz``) into ``dest`` after checking every member (see the module
    docstring); delete the paths its :data:`DELETED_MEMBER` lists; those paths."""
    target = Path(dest)
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            members, deleted = _members(tar)
            tar.extractall(target, members=members, filter="data")
    except (tarfile.TarError, EOFError, ValueError) as exc:
        if isinstance(exc, UnsafeArchiveError):
            raise
        raise UnsafeArchiveError(f"cannot unpack {archive}: {exc}") from exc
    inside = target.resolve()
    for rel in deleted:
        path = target / rel
        if not path.parent.resolve().is_relative_to(inside):
            raise UnsafeArchiveError(f"{DELETED_MEMBER}: {rel!r} leads outside {target} (a link on the way)")
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return deleted


def cache_fetch(key: str, dest: Path) -> None:
    """Download the object ``key`` of this node's object cache into ``dest``."""
    from flamepy.cache import ObjectRef, client_for

    client = client_for()
    client.download_object(ObjectRef(client.endpoint, key, 0), dest)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class JobFiles:
    """Unpacked uploads under ``root`` (see the module docstring); ``fetch(key, path)`` downloads
    an archive (default: this node's object cache)."""

    def __init__(self, root: str | os.PathLike[str], fetch: Fetch | None = None) -> None:
        self.root = Path(root).absolute()
        self.fetch = fetch or cache_fetch

    def folder(self, job_id: str) -> Path:
        return self.root / (_UNSAFE.sub("_", job_id).lstrip(".") or "job")

    def install(self, job_id: str, archive: str, deltas: Sequence[str] = ()) -> Path:
        """The job's folder holding ``archive`` with ``deltas`` applied, unpacking what is missing."""
        target = self.folder(job_id)
        self.root.mkdir(parents=True, exist_ok=True)
        state_path = self.root / f".{target.name}.json"
        with _locked(self.root / f".{target.name}.lock"):
            state = _read_state(state_path) if target.is_dir() else None
            if state is None or state.get("base") != archive:
                self._unpack_base(archive, target)
                state = {"base": archive, "applied": 0}
                _write_state(state_path, state)
            count = state.get("applied", 0)
            applied = count if isinstance(count, int) else 0
            for key in deltas[applied:]:
                self._apply(key, target)
                applied += 1
                _write_state(state_path, {"base": archive, "applied": applied})
        return target

    def _download(self, key: str, into: Path) -> Path:
        fd, name = tempfile.mkstemp(prefix=".fetch-", suffix=".tar.gz", dir=into)
        os.close(fd)
        self.fetch(key, Path(name))
        return Path(name)

    def _unpack_base(self, archive: str, target: Path) -> None:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=self.root))
        try:
            path = self._download(archive, self.root)
            try:
                safe_extract(path, tmp)
            finally:
                path.unlink(missing_ok=True)
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=self.root))
                os.rename(target, old / "x")
                shutil.rmtree(old, ignore_errors=True)
            os.rename(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _apply(self, key: str, target: Path) -> None:
        path = self._download(key, self.root)
        try:
            safe_extract(path, target)
        finally:
            path.unlink(missing_ok=True)


def _read_state(path: Path) -> dict[str, object] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _write_state(path: Path, state: dict[str, object]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)
