"""Cache storage backends: memory (volatile) and disk (durable, behind an LRU memory budget)."""

from __future__ import annotations

from object_cache.storage.base import Blob, Storage
from object_cache.storage.cached import CachedStorage
from object_cache.storage.disk import DiskStorage
from object_cache.storage.memory import MemoryStorage


def open_storage(spec: str, memory_budget: int) -> Storage:
    """``"memory"`` → :class:`MemoryStorage`; a directory → :class:`DiskStorage` behind an LRU of
    ``memory_budget`` bytes."""
    if spec == "memory":
        return MemoryStorage()
    return CachedStorage(DiskStorage(spec), memory_budget)


__all__ = ["Blob", "CachedStorage", "DiskStorage", "MemoryStorage", "Storage", "open_storage"]
