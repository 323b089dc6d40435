"""Where the Runner keeps objects: the object cache, behind a small interface.

:class:`CacheStore` is the real one (``flamepy.cache``); :class:`MemoryStore` keeps everything in a
dict, so the Runner's client and service sides can be tested together in one process without a
cluster. Both are thread-safe. Keys follow the cache's ``<application>/<session>/<object id>``.
"""

from __future__ import annotations

import itertools
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cloudpickle

from flamepy.errors import NotFoundError


class ObjectStore(Protocol):
    def put(self, key_prefix: str, obj: object) -> Any: ...
    def get(self, ref: Any) -> object: ...
    def update(self, ref: Any, obj: object) -> Any: ...
    def upload(self, key: str, path: Path) -> Any: ...
    def download(self, ref: Any, dest: Path) -> None: ...
    def delete(self, key_prefix: str) -> int: ...
    def exists(self, key: str) -> Any: ...
    def is_ref(self, value: object) -> bool: ...
    def make_ref(self, endpoint: str, key: str, version: int) -> Any: ...


class CacheStore:
    """The object cache of ``flamepy.cache`` (endpoint from the context / FLAME_CACHE_ENDPOINT)."""

    def __init__(self) -> None:
        from flamepy import cache

        self._cache = cache

    def put(self, key_prefix: str, obj: object) -> Any:
        return self._cache.put_object(key_prefix, obj)

    def get(self, ref: Any) -> object:
        return self._cache.get_object(ref)

    def update(self, ref: Any, obj: object) -> Any:
        return self._cache.update_object(ref, obj)

    def upload(self, key: str, path: Path) -> Any:
        return self._cache.upload_object(key, path)

    def download(self, ref: Any, dest: Path) -> None:
        self._cache.download_object(ref, dest)

    def delete(self, key_prefix: str) -> int:
        return self._cache.delete_objects(key_prefix)

    def exists(self, key: str) -> Any:
        """The ref of the stored object ``key`` (the configured cache), or None when it is absent."""
        client = self._cache.client_for()
        try:
            info = client.stat(key)
        except NotFoundError:
            return None
        return self._cache.ObjectRef(client.endpoint, info.key, info.version)

    def is_ref(self, value: object) -> bool:
        return isinstance(value, self._cache.ObjectRef)

    def make_ref(self, endpoint: str, key: str, version: int) -> Any:
        return self._cache.ObjectRef(endpoint=endpoint, key=key, version=version)


@dataclass(frozen=True)
class MemoryRef:
    endpoint: str
    key: str
    version: int


class MemoryStore:
    """An in-process object store with the cache's semantics (objects pickled on put, like the cache)."""

    endpoint = "memory://"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[str, tuple[int, bytes]] = {}
        self._ids = itertools.count(1)

    def put(self, key_prefix: str, obj: object) -> MemoryRef:
        data = cloudpickle.dumps(obj)
        with self._lock:
            key = f"{key_prefix}/{next(self._ids)}"
            self._objects[key] = (1, data)
        return MemoryRef(self.endpoint, key, 1)

    def get(self, ref: Any) -> object:
        return cloudpickle.loads(self._lookup(ref.key)[1])

    def update(self, ref: Any, obj: object) -> MemoryRef:
        data = cloudpickle.dumps(obj)
        with self._lock:
            version = self._objects[ref.key][0] + 1 if ref.key in self._objects else 1
            self._objects[ref.key] = (version, data)
        return MemoryRef(self.endpoint, ref.key, version)

    def upload(self, key: str, path: Path) -> MemoryRef:
        data = Path(path).read_bytes()
        with self._lock:
            self._objects[key] = (1, data)
        return MemoryRef(self.endpoint, key, 1)

    def download(self, ref: Any, dest: Path) -> None:
        data = self._lookup(ref.key)[1]
        tmp = Path(f"{dest}.part")
        tmp.write_bytes(data)
        shutil.move(tmp, dest)

    def delete(self, key_prefix: str) -> int:
        prefix = key_prefix[:-1] if key_prefix.endswith("*") else key_prefix.rstrip("/") + "/"
        with self._lock:
            doomed = [k for k in self._objects if k.startswith(prefix) or k == key_prefix]
            for key in doomed:
                del self._objects[key]
        return len(doomed)

    def exists(self, key: str) -> MemoryRef | None:
        with self._lock:
            found = self._objects.get(key)
        return None if found is None else MemoryRef(self.endpoint, key, found[0])

    def is_ref(self, value: object) -> bool:
        return isinstance(value, MemoryRef)

    def make_ref(self, endpoint: str, key: str, version: int) -> MemoryRef:
        return MemoryRef(endpoint, key, version)

    def keys(self) -> list[str]:
        with self._lock:
            return sorted(self._objects)

    def _lookup(self, key: str) -> tuple[int, bytes]:
        with self._lock:
            found = self._objects.get(key)
        if found is None:
            raise NotFoundError(f"object {key!r} not found")
        return found
