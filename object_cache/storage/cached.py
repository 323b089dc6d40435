"""An LRU byte budget of hot generations in memory in front of a durable storage.

Writes go through to the inner storage (nothing is ever only in memory), so evicting an entry loses
nothing: the next read loads it again from disk. A generation is cached whole (base and deltas)
when it fits the budget; bigger ones stream from disk in chunks and are never held in memory.
A blob being received keeps an in-memory copy only while it stays under a quarter of the budget.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from flamepy.common.cache_types import ObjectInfo
from object_cache.storage.base import Blob, Storage, chunks_of


@dataclass
class _Entry:
    base_tag: str
    base: bytes
    deltas: list[bytes] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.base) + sum(map(len, self.deltas))


class MirroredBlob(Blob):
    """The inner storage's blob plus an in-memory copy while it is small enough."""

    def __init__(self, inner: Blob, mirror_limit: int) -> None:
        self.inner = inner
        self.size = 0
        self._limit = mirror_limit
        self._parts: list[bytes] | None = []

    def write(self, chunk: bytes) -> None:
        self.inner.write(chunk)
        self.size += len(chunk)
        if self._parts is not None:
            if self.size > self._limit:
                self._parts = None
            else:
                self._parts.append(chunk)

    def abort(self) -> None:
        self._parts = None
        self.inner.abort()

    @classmethod
    def unmirrored(cls, inner: Blob) -> MirroredBlob:
        """A blob whose bytes are only in ``inner`` (an adopted file: never read back to mirror)."""
        blob = cls(inner, 0)
        blob._parts = None
        blob.size = inner.size
        return blob

    def data(self) -> bytes | None:
        return None if self._parts is None else b"".join(self._parts)


class CachedStorage(Storage):
    def __init__(self, inner: Storage, budget_bytes: int) -> None:
        self.inner = inner
        self.budget = max(0, budget_bytes)
        self.blocking = inner.blocking
        self.durable = inner.durable
        self._lru: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.loads = 0  # generations loaded back from the inner storage (tests, metrics)

    # -- the LRU ---------------------------------------------------------------------------

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    def _drop(self, key: str) -> None:
        entry = self._lru.pop(key, None)
        if entry is not None:
            self._bytes -= entry.size

    def _insert(self, key: str, entry: _Entry) -> None:
        self._drop(key)
        if entry.size > self.budget:
            return
        self._lru[key] = entry
        self._bytes += entry.size
        while self._bytes > self.budget:
            _, old = self._lru.popitem(last=False)
            self._bytes -= old.size

    def _cached(self, info: ObjectInfo) -> _Entry | None:
        """The cached generation of ``info`` with all its deltas, loading it when it fits."""
        with self._lock:
            entry = self._lru.get(info.key)
            if (
                entry is not None
                and entry.base_tag == info.base_tag
                and len(entry.deltas) >= len(info.deltas)
            ):
                self._lru.move_to_end(info.key)
                return entry
        if info.total_size > self.budget:
            return None
        loaded = _Entry(
            info.base_tag,
            b"".join(self.inner.read_base(info, 1 << 20)),
            [b"".join(self.inner.read_delta(info, i, 1 << 20)) for i in range(len(info.deltas))],
        )
        with self._lock:
            self.loads += 1
            self._insert(info.key, loaded)
        return loaded

    # -- Storage ---------------------------------------------------------------------------

    def load(self) -> list[ObjectInfo]:
        return self.inner.load()

    def new_blob(self) -> Blob:
        return MirroredBlob(self.inner.new_blob(), self.budget // 4)

    def commit_base(self, info: ObjectInfo, blob: Blob) -> None:
        assert isinstance(blob, MirroredBlob)
        data = blob.data()
        self.inner.commit_base(info, blob.inner)
        with self._lock:
            self._drop(info.key)
            if data is not None:
                self._insert(info.key, _Entry(info.base_tag, data))

    def commit_delta(self, info: ObjectInfo, blob: Blob) -> None:
        assert isinstance(blob, MirroredBlob)
        data = blob.data()
        self.inner.commit_delta(info, blob.inner)
        with self._lock:
            entry = self._lru.get(info.key)
            if entry is None:
                return
            current = entry.base_tag == info.base_tag and len(entry.deltas) == len(info.deltas) - 1
            if data is None or not current:
                self._drop(info.key)
            else:
                self._insert(info.key, _Entry(entry.base_tag, entry.base, [*entry.deltas, data]))

    def read_base(self, info: ObjectInfo, chunk_bytes: int) -> Iterator[bytes]:
        entry = self._cached(info)
        if entry is None:
            return self.inner.read_base(info, chunk_bytes)
        return chunks_of(entry.base, chunk_bytes)

    def read_delta(self, info: ObjectInfo, index: int, chunk_bytes: int) -> Iterator[bytes]:
        entry = self._cached(info)
        if entry is None:
            return self.inner.read_delta(info, index, chunk_bytes)
        return chunks_of(entry.deltas[index], chunk_bytes)

    def delete(self, info: ObjectInfo) -> None:
        with self._lock:
            self._drop(info.key)
        self.inner.delete(info)

    def discard(self, info: ObjectInfo) -> None:
        with self._lock:
            entry = self._lru.get(info.key)
            if entry is not None and entry.base_tag == info.base_tag:
                self._drop(info.key)
        self.inner.discard(info)

    def handover(self) -> tuple[Path, str] | None:
        return self.inner.handover()

    def adopt(self, path: Path) -> Blob:
        return MirroredBlob.unmirrored(self.inner.adopt(path))

    def export_segment(self, info: ObjectInfo, index: int | None, dest: Path) -> None:
        self.inner.export_segment(info, index, dest)

    def close(self) -> None:
        with self._lock:
            self._lru.clear()
            self._bytes = 0
        self.inner.close()
