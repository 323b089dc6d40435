"""The code package of a Runner: which files of a directory ship, their content hash, the archive.

Client side: :func:`collect_files` walks a directory and leaves out what never belongs in a package
(VCS folders, virtualenvs, ``__pycache__`` and tool caches), then the context's
``package.excludes`` and the patterns of ``.flameignore`` and ``.gitignore`` in the root (gitignore
syntax, through ``pathspec``). :func:`package_digest` hashes the selected files (paths, executable
bits and contents, not timestamps), so an unchanged directory has the same digest wherever and
whenever it is packaged; :func:`build_archive` writes a deterministic ``.tar.gz``.

Service side: :func:`extract_package` unpacks an archive once per digest under a work directory
(extract to a temporary folder, then one atomic rename), so concurrent executors on a node share it.

Synchronous, no threads; pure apart from the file system.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec

from flamepy.errors import InvalidArgumentError

log = logging.getLogger(__name__)

IGNORE_FILES = (".flameignore", ".gitignore")
# Folders that are never part of a package, by name.
SKIPPED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".nox", ".mypy_cache",
        ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints", "node_modules", ".flame-local",
        ".flmrun", ".eggs",
    }
)  # fmt: skip
SKIPPED_SUFFIXES = (".pyc", ".pyo", ".egg-info")
SKIPPED_FILES = frozenset({".DS_Store"})
LARGE_PACKAGE_BYTES = 256 * 1024**2  # warn above this: probably data that belongs in an exclude
_READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class PackageFile:
    path: str  # relative, POSIX separators
    size: int
    executable: bool


def _is_virtualenv(path: Path) -> bool:
    return (path / "pyvenv.cfg").is_file() or (path / "conda-meta").is_dir()


def load_ignore_spec(root: Path, excludes: Iterable[str] = ()) -> pathspec.PathSpec:
    """The gitignore-style patterns of ``excludes`` plus the root's ``.flameignore``/``.gitignore``."""
    lines = [str(p) for p in excludes]
    for name in IGNORE_FILES:
        try:
            lines.extend((root / name).read_text(encoding="utf-8", errors="replace").splitlines())
        except FileNotFoundError:
            continue
    return pathspec.GitIgnoreSpec.from_lines(lines)


def _skip_dir(entry: os.DirEntry[str]) -> bool:
    if entry.name in SKIPPED_DIRS or entry.name.endswith(SKIPPED_SUFFIXES):
        return True
    return entry.is_symlink() or _is_virtualenv(Path(entry.path))


def collect_files(root: str | Path, excludes: Sequence[str] = ()) -> list[PackageFile]:
    """The files of ``root`` that belong in its package, sorted by path.

    Symlinked folders are not followed; a symlinked file ships with its target's content.
    """
    base = Path(root).resolve()
    if not base.is_dir():
        raise InvalidArgumentError(f"cannot package {root}: not a directory")
    spec = load_ignore_spec(base, excludes)
    found: list[PackageFile] = []
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        with os.scandir(base / rel_dir) as entries:
            for entry in entries:
                rel = f"{rel_dir}{entry.name}"
                if entry.is_dir(follow_symlinks=False) or (entry.is_symlink() and entry.is_dir()):
                    if not _skip_dir(entry) and not spec.match_file(rel + "/"):
                        stack.append(rel + "/")
                    continue
                if entry.name in SKIPPED_FILES or entry.name.endswith(SKIPPED_SUFFIXES):
                    continue
                if spec.match_file(rel):
                    continue
                try:
                    st = entry.stat()  # follows a symlinked file
                except FileNotFoundError:  # dangling symlink
                    continue
                if stat.S_ISREG(st.st_mode):
                    found.append(PackageFile(rel, st.st_size, bool(st.st_mode & 0o111)))
    found.sort(key=lambda f: f.path)
    return found


def _file_digest(path: Path) -> bytes:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_READ_CHUNK):
            h.update(chunk)
    return h.digest()


def package_digest(root: str | Path, files: Sequence[PackageFile]) -> str:
    """Hex SHA-256 over the files' paths, executable bits and contents (not their timestamps)."""
    base = Path(root)
    h = hashlib.sha256(b"flame-runner-package-v1\n")
    for f in files:
        h.update(f.path.encode("utf-8") + b"\0" + (b"x" if f.executable else b"-") + b"\0")
        h.update(_file_digest(base / f.path))
    return h.hexdigest()


def build_archive(root: str | Path, files: Sequence[PackageFile], dest: str | Path) -> Path:
    """Write ``files`` of ``root`` to the gzip-compressed tar ``dest`` (same bytes for same content)."""
    base = Path(root)
    out = Path(dest)
    total = sum(f.size for f in files)
    if total > LARGE_PACKAGE_BYTES:
        log.warning(
            "package of %s is %d MiB; exclude data with package.excludes or .flameignore",
            base,
            total // 1024**2,
        )
    with (
        out.open("wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for f in files:
            info = tarfile.TarInfo(f.path)
            info.size = (base / f.path).stat().st_size
            info.mode = 0o755 if f.executable else 0o644
            info.mtime = 0
            with (base / f.path).open("rb") as fh:
                tar.addfile(info, fh)
    return out


def extract_package(archive: str | Path, work_dir: str | Path, digest: str) -> Path:
    """The folder ``<work_dir>/<digest>`` holding the archive's files, extracted once."""
    root = Path(work_dir)
    target = root / digest
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=root))
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            tar.extractall(tmp, filter="data")
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # not a lost race with another executor: a real failure
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def archive_members(data: bytes) -> list[str]:
    """The file names inside an archive's bytes (for tests and inspection)."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return sorted(m.name for m in tar.getmembers() if m.isfile())
