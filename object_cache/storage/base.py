"""The storage interface of the object cache: bytes of bases and deltas, and object metadata.

A *generation* is one base write of an object (its ``base_tag``) plus the deltas appended to it.
The store (``object_cache.store``) owns versions and decides when a generation's bytes may go
(:meth:`Storage.discard`, deferred while a reader streams them); a storage only keeps bytes and,
when durable, the metadata it must give back from :meth:`Storage.load` after a restart.

Methods may block (disk I/O); the store runs them in a worker thread when ``blocking`` is true, so
implementations must be thread-safe.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

from flamepy.common.cache_types import ObjectInfo


class Blob(ABC):
    """Bytes being received, not yet visible: either committed by the storage or aborted."""

    size: int = 0

    @abstractmethod
    def write(self, chunk: bytes) -> None: ...

    @abstractmethod
    def abort(self) -> None: ...


class Storage(ABC):
    blocking: bool = False
    durable: bool = False

    @abstractmethod
    def load(self) -> list[ObjectInfo]:
        """The objects stored before this process started (empty for volatile storage)."""

    @abstractmethod
    def new_blob(self) -> Blob: ...

    @abstractmethod
    def commit_base(self, info: ObjectInfo, blob: Blob) -> None:
        """Make ``blob`` the base of the new generation ``info`` (no deltas) and ``info`` the
        object's metadata, atomically. The previous generation stays readable until discarded."""

    @abstractmethod
    def commit_delta(self, info: ObjectInfo, blob: Blob) -> None:
        """Make ``blob`` the last delta of ``info`` and ``info`` the object's metadata, atomically."""

    @abstractmethod
    def read_base(self, info: ObjectInfo, chunk_bytes: int) -> Iterator[bytes]: ...

    @abstractmethod
    def read_delta(self, info: ObjectInfo, index: int, chunk_bytes: int) -> Iterator[bytes]: ...

    @abstractmethod
    def delete(self, info: ObjectInfo) -> None:
        """Forget the object's metadata (it is gone after a restart); bytes go with :meth:`discard`."""

    @abstractmethod
    def discard(self, info: ObjectInfo) -> None:
        """Drop the bytes of the generation ``info`` (no reader uses them any more)."""

    def handover(self) -> tuple[Path, str] | None:
        """The same-host hand-over directory and its token (see cache.proto), or None."""
        return None

    def adopt(self, path: Path) -> Blob:
        """A blob made of the complete file ``path`` from the hand-over directory (taken over by
        the commit, not copied). Only storages with a hand-over directory implement it."""
        raise NotImplementedError(f"{type(self).__name__} takes no files")

    def export_segment(self, info: ObjectInfo, index: int | None, dest: Path) -> None:
        """Make the base (``index`` None) or delta ``index`` of ``info`` readable at ``dest`` (a
        hard link: later writes never change it) for a same-host reader."""
        raise NotImplementedError(f"{type(self).__name__} gives no files")

    def close(self) -> None:  # noqa: B027  (optional hook)
        """Release resources."""


def chunks_of(data: bytes | memoryview, chunk_bytes: int) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), chunk_bytes):
        yield bytes(view[start : start + chunk_bytes])
