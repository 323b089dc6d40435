"""Volatile storage: every generation in a dict. For tests and throwaway clusters; the memory
budget does not apply (this *is* the memory)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from flamepy.common.cache_types import ObjectInfo
from object_cache.storage.base import Blob, Storage, chunks_of


class MemoryBlob(Blob):
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.parts.append(chunk)
        self.size += len(chunk)

    def abort(self) -> None:
        self.parts.clear()

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


@dataclass
class _Generation:
    base: bytes
    deltas: list[bytes] = field(default_factory=list)


class MemoryStorage(Storage):
    blocking = False
    durable = False

    def __init__(self) -> None:
        self._gens: dict[tuple[str, str], _Generation] = {}
        self._lock = threading.Lock()

    def load(self) -> list[ObjectInfo]:
        return []

    def new_blob(self) -> Blob:
        return MemoryBlob()

    def commit_base(self, info: ObjectInfo, blob: Blob) -> None:
        assert isinstance(blob, MemoryBlob)
        with self._lock:
            self._gens[(info.key, info.base_tag)] = _Generation(blob.take())

    def commit_delta(self, info: ObjectInfo, blob: Blob) -> None:
        assert isinstance(blob, MemoryBlob)
        with self._lock:
            self._gens[(info.key, info.base_tag)].deltas.append(blob.take())

    def _gen(self, info: ObjectInfo) -> _Generation:
        with self._lock:
            return self._gens[(info.key, info.base_tag)]

    def read_base(self, info: ObjectInfo, chunk_bytes: int) -> Iterator[bytes]:
        return chunks_of(self._gen(info).base, chunk_bytes)

    def read_delta(self, info: ObjectInfo, index: int, chunk_bytes: int) -> Iterator[bytes]:
        return chunks_of(self._gen(info).deltas[index], chunk_bytes)

    def delete(self, info: ObjectInfo) -> None:
        pass  # nothing durable to forget

    def discard(self, info: ObjectInfo) -> None:
        with self._lock:
            self._gens.pop((info.key, info.base_tag), None)

    @property
    def stored_bytes(self) -> int:
        with self._lock:
            return sum(len(g.base) + sum(map(len, g.deltas)) for g in self._gens.values())
