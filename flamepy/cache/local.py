"""The client's bounded local cache of object generations (encoded base + deltas), LRU by entries
and bytes. Entries hold encoded bytes, never decoded objects, so a caller mutating what
``get_object`` returned cannot corrupt the next get."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from flamepy.common.cache_keys import ObjectKey
from flamepy.common.cache_types import Encoding

DEFAULT_MAX_ENTRIES = 64
DEFAULT_MAX_BYTES = 256 * 1024**2


@dataclass(frozen=True)
class Held:
    """One generation as the client holds it: the base of ``base_tag`` and its first deltas."""

    key: str
    base_tag: str
    base_version: int
    encoding: Encoding
    base: bytes
    deltas: tuple[tuple[Encoding, bytes], ...] = ()

    @property
    def version(self) -> int:
        return self.base_version + len(self.deltas)

    @property
    def size(self) -> int:
        return len(self.base) + sum(len(d) for _, d in self.deltas)

    def with_deltas(self, more: tuple[tuple[Encoding, bytes], ...]) -> Held:
        return Held(self.key, self.base_tag, self.base_version, self.encoding, self.base, self.deltas + more)


class LocalCache:
    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, Held] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    def get(self, key: str) -> Held | None:
        with self._lock:
            held = self._entries.get(key)
            if held is not None:
                self._entries.move_to_end(key)
            return held

    def put(self, held: Held) -> None:
        with self._lock:
            self._pop(held.key)
            if held.size > self.max_bytes or self.max_entries < 1:
                return
            self._entries[held.key] = held
            self._bytes += held.size
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, old = self._entries.popitem(last=False)
                self._bytes -= old.size

    def discard(self, key: str) -> None:
        with self._lock:
            self._pop(key)

    def discard_matching(self, pattern: ObjectKey) -> None:
        with self._lock:
            for key in [k for k in self._entries if pattern.matches(ObjectKey.parse(k))]:
                self._pop(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def _pop(self, key: str) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old.size
