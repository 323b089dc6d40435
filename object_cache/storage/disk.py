"""Durable storage: one directory per object, atomic writes, recovered on start.

Layout under the root::

    tmp/                                   blobs being received (cleared on start)
    handover/                              same-host file hand-over (owner only; cleared on start)
    objects/<app>/<session>/<id>/meta.json the object's ObjectInfo (replaced atomically)
    objects/<app>/<session>/<id>/base-<tag>
    objects/<app>/<session>/<id>/delta-<tag>-<index>

A write goes to ``tmp/``, is fsynced and renamed into the object directory, then ``meta.json`` is
replaced (write temp + fsync + rename + fsync of the directory). A crash at any point leaves either
the old or the new metadata, each naming complete files; files no metadata names are swept on start.
Keys are validated (``ObjectKey``) before they reach here, so a part can never escape the root.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flamepy.common.cache_keys import ObjectKey
from flamepy.common.cache_types import DeltaInfo, Encoding, ObjectInfo
from flamepy.errors import FlameError
from object_cache.storage.base import Blob, Storage

log = logging.getLogger(__name__)

META = "meta.json"
TOKEN = ".token"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DiskBlob(Blob):
    def __init__(self, path: Path, adopt: bool = False) -> None:
        """A new file at ``path``, or (``adopt``) the complete file already there."""
        self.path = path
        self._adopted = adopt
        self._file = path.open("rb" if adopt else "wb")
        self.size = os.fstat(self._file.fileno()).st_size if adopt else 0

    def write(self, chunk: bytes) -> None:
        if self._adopted:
            raise ValueError("an adopted blob is complete")
        self._file.write(chunk)
        self.size += len(chunk)

    def finish(self) -> Path:
        """Flush and fsync; the file is complete and ready to be renamed into place."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return self.path

    def abort(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)


def info_to_json(info: ObjectInfo) -> dict[str, Any]:
    return {
        "key": info.key,
        "version": info.version,
        "base_version": info.base_version,
        "base_tag": info.base_tag,
        "encoding": int(info.encoding),
        "base_size": info.base_size,
        "deltas": [[d.size, int(d.encoding)] for d in info.deltas],
    }


def info_from_json(doc: dict[str, Any]) -> ObjectInfo:
    return ObjectInfo(
        key=str(doc["key"]),
        version=int(doc["version"]),
        base_version=int(doc["base_version"]),
        base_tag=str(doc["base_tag"]),
        encoding=Encoding(int(doc["encoding"])),
        base_size=int(doc["base_size"]),
        deltas=tuple(DeltaInfo(int(size), Encoding(int(enc))) for size, enc in doc["deltas"]),
    )


class DiskStorage(Storage):
    blocking = True
    durable = True

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self._tmp = self.root / "tmp"
        self._objects = self.root / "objects"
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)  # owner only, whatever the umask
        if self.root.stat().st_mode & 0o077:
            log.warning("%s was open to other users: made it 0700 (owner only)", self.root)
            os.chmod(self.root, 0o700)
        self._tmp.mkdir(mode=0o700, exist_ok=True)
        self._objects.mkdir(mode=0o700, exist_ok=True)
        self._handover = self.root / "handover"
        self._handover.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self._handover, 0o700)
        self._handover_token = secrets.token_hex(16)
        (self._handover / TOKEN).write_text(self._handover_token)

    # -- paths -----------------------------------------------------------------------------

    def _dir(self, key: str) -> Path:
        k = ObjectKey.parse(key)
        assert k.object_id is not None
        return self._objects / k.application / k.session / k.object_id

    @staticmethod
    def _base_name(info: ObjectInfo) -> str:
        return f"base-{info.base_tag}"

    @staticmethod
    def _delta_name(info: ObjectInfo, index: int) -> str:
        return f"delta-{info.base_tag}-{index}"

    def _expected_files(self, info: ObjectInfo) -> set[str]:
        names = {META, self._base_name(info)}
        names.update(self._delta_name(info, i) for i in range(len(info.deltas)))
        return names

    # -- Storage ---------------------------------------------------------------------------

    def load(self) -> list[ObjectInfo]:
        for leftover in self._tmp.iterdir():
            leftover.unlink(missing_ok=True)
        for leftover in self._handover.iterdir():
            if leftover.name != TOKEN:
                leftover.unlink(missing_ok=True)
        infos = []
        for meta in sorted(self._objects.glob(f"*/*/*/{META}")):
            try:
                info = info_from_json(json.loads(meta.read_text()))
                if self._dir(info.key) != meta.parent:
                    raise ValueError(f"key {info.key!r} does not match its directory")
            except (OSError, ValueError, KeyError, TypeError, FlameError) as exc:
                log.error("skipping unreadable object metadata %s: %s", meta, exc)
                continue
            self._sweep(meta.parent, info)
            infos.append(info)
        return infos

    def _sweep(self, obj_dir: Path, info: ObjectInfo) -> None:
        """Remove files of older generations or of writes a crash interrupted."""
        keep = self._expected_files(info)
        for path in obj_dir.iterdir():
            if path.name not in keep:
                path.unlink(missing_ok=True)

    def new_blob(self) -> Blob:
        return DiskBlob(self._tmp / secrets.token_hex(12))

    def _install(self, info: ObjectInfo, blob: Blob, name: str) -> None:
        assert isinstance(blob, DiskBlob)
        src = blob.finish()
        obj_dir = self._dir(info.key)
        obj_dir.mkdir(parents=True, exist_ok=True)
        os.replace(src, obj_dir / name)
        self._write_meta(obj_dir, info)

    def _write_meta(self, obj_dir: Path, info: ObjectInfo) -> None:
        tmp = obj_dir / f".{META}.{secrets.token_hex(4)}"
        with tmp.open("w") as f:
            json.dump(info_to_json(info), f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, obj_dir / META)
        _fsync_dir(obj_dir)

    def commit_base(self, info: ObjectInfo, blob: Blob) -> None:
        self._install(info, blob, self._base_name(info))

    def commit_delta(self, info: ObjectInfo, blob: Blob) -> None:
        self._install(info, blob, self._delta_name(info, len(info.deltas) - 1))

    def _read(self, path: Path, chunk_bytes: int) -> Iterator[bytes]:
        with path.open("rb") as f:
            while chunk := f.read(chunk_bytes):
                yield chunk

    def read_base(self, info: ObjectInfo, chunk_bytes: int) -> Iterator[bytes]:
        return self._read(self._dir(info.key) / self._base_name(info), chunk_bytes)

    def read_delta(self, info: ObjectInfo, index: int, chunk_bytes: int) -> Iterator[bytes]:
        return self._read(self._dir(info.key) / self._delta_name(info, index), chunk_bytes)

    def handover(self) -> tuple[Path, str] | None:
        return self._handover, self._handover_token

    def adopt(self, path: Path) -> Blob:
        return DiskBlob(path, adopt=True)

    def export_segment(self, info: ObjectInfo, index: int | None, dest: Path) -> None:
        name = self._base_name(info) if index is None else self._delta_name(info, index)
        os.link(self._dir(info.key) / name, dest)

    def delete(self, info: ObjectInfo) -> None:
        obj_dir = self._dir(info.key)
        (obj_dir / META).unlink(missing_ok=True)
        _fsync_dir(obj_dir)

    def discard(self, info: ObjectInfo) -> None:
        obj_dir = self._dir(info.key)
        for name in self._expected_files(info) - {META}:
            (obj_dir / name).unlink(missing_ok=True)
        if not (obj_dir / META).exists():
            shutil.rmtree(obj_dir, ignore_errors=True)
            for parent in (obj_dir.parent, obj_dir.parent.parent):
                try:
                    parent.rmdir()  # only when empty
                except OSError:
                    break
