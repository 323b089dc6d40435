"""The object store: versions, keys and the life of generations, over a :class:`Storage`.

Concurrency model: runs on the server's asyncio loop. Blocking storage calls go to worker threads.
One ``asyncio.Lock`` serialises commits, deletes and discards (each a few file operations), so
versions are assigned in commit order and never go backwards, whatever the number of concurrent
writers: the last commit wins. Receiving a payload happens outside the lock, into a private blob.
A generation whose base was replaced or deleted keeps its bytes until its last reader finishes
(a same-host reader gets hard links instead, made under the lock, which outlive any discard).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from flamepy.common.cache_keys import ObjectKey
from flamepy.common.cache_types import DeltaInfo, Encoding, GetMode, ObjectInfo
from flamepy.errors import InvalidArgumentError, NotFoundError
from object_cache.storage import Blob, Storage

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_MAX_OBJECT_BYTES = 64 * 1024**3


@dataclass(frozen=True)
class GetPlan:
    """What a get sends: the object as of now, the mode, and which deltas follow."""

    info: ObjectInfo
    mode: GetMode
    first_delta: int
    delta_count: int


def plan_get(info: ObjectInfo, have_tag: str, have_version: int, base_only: bool) -> GetPlan:
    """Negotiate a get: "not modified", "only these deltas" or "everything" (pure)."""
    held = have_version - info.base_version
    if have_tag and have_tag == info.base_tag and 0 <= held <= len(info.deltas):
        if base_only or held == len(info.deltas):
            return GetPlan(info, GetMode.NOT_MODIFIED, held, 0)
        return GetPlan(info, GetMode.DELTAS, held, len(info.deltas) - held)
    return GetPlan(info, GetMode.FULL, 0, 0 if base_only else len(info.deltas))


def _take(chunks: Iterator[bytes], limit: int) -> bytes:
    """Chunks from ``chunks`` joined until at least ``limit`` bytes (b"" once exhausted)."""
    parts: list[bytes] = []
    size = 0
    for chunk in chunks:
        parts.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return parts[0] if len(parts) == 1 else b"".join(parts)


def new_object_id() -> str:
    return secrets.token_hex(8)


class ObjectStore:
    def __init__(self, storage: Storage, max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES) -> None:
        self.storage = storage
        self.max_object_bytes = max_object_bytes
        self._index: dict[str, ObjectInfo] = {}
        self._lock = asyncio.Lock()
        self._readers: Counter[tuple[str, str]] = Counter()
        self._retired: dict[tuple[str, str], ObjectInfo] = {}

    async def _io(self, fn: Callable[..., T], *args: object) -> T:
        if self.storage.blocking:
            return await asyncio.to_thread(fn, *args)
        return fn(*args)

    async def start(self) -> int:
        infos = await self._io(self.storage.load)
        self._index = {info.key: info for info in infos}
        return len(infos)

    def close(self) -> None:
        self.storage.close()

    # -- reads -----------------------------------------------------------------------------

    def stat(self, key: str) -> ObjectInfo:
        ObjectKey.parse(key)
        info = self._index.get(key)
        if info is None:
            raise NotFoundError(f"object {key!r} not found")
        return info

    def __len__(self) -> int:
        return len(self._index)

    def plan_get(self, key: str, have_tag: str, have_version: int, base_only: bool) -> GetPlan:
        return plan_get(self.stat(key), have_tag, have_version, base_only)

    async def read(self, plan: GetPlan, chunk_bytes: int) -> AsyncGenerator[bytes, None]:
        """The data of ``plan`` in messages of about ``chunk_bytes`` (small deltas are coalesced,
        one worker-thread hop per message); the generation's bytes stay until this finishes."""
        info = plan.info
        gen = (info.key, info.base_tag)
        self._readers[gen] += 1
        data = self._segments(plan, chunk_bytes)
        try:
            while batch := await self._io(_take, data, chunk_bytes):
                yield batch
        finally:
            data.close()
            self._readers[gen] -= 1
            if self._readers[gen] <= 0:
                del self._readers[gen]
                retired = self._retired.pop(gen, None)
                if retired is not None:
                    async with self._lock:
                        await self._discard(retired)

    async def export(
        self, key: str, have_tag: str, have_version: int, base_only: bool, directory: Path, inline_below: int
    ) -> tuple[GetPlan, bytes | list[str]]:
        """A get for a same-host reader: the plan, and its segments inline when they total less
        than ``inline_below`` bytes, else as names of hard links made in ``directory``."""
        async with self._lock:  # no write retires this generation while we link it
            plan = self.plan_get(key, have_tag, have_version, base_only)
            info = plan.info
            indexes: list[int | None] = [None] if plan.mode == GetMode.FULL else []
            indexes += range(plan.first_delta, plan.first_delta + plan.delta_count)
            sizes = [info.base_size if i is None else info.deltas[i].size for i in indexes]
            if sum(sizes) < inline_below:
                parts = await self._io(lambda: list(self._segments(plan, max(sum(sizes), 1))))
                return plan, b"".join(parts)
            names = []
            try:
                for index in indexes:
                    name = f"get-{secrets.token_hex(8)}"
                    await self._io(self.storage.export_segment, info, index, directory / name)
                    names.append(name)
            except BaseException:
                for name in names:
                    (directory / name).unlink(missing_ok=True)
                raise
            return plan, names

    def _segments(self, plan: GetPlan, chunk_bytes: int) -> Generator[bytes, None, None]:
        info = plan.info
        if plan.mode == GetMode.FULL:
            yield from self.storage.read_base(info, chunk_bytes)
        for i in range(plan.first_delta, plan.first_delta + plan.delta_count):
            yield from self.storage.read_delta(info, i, chunk_bytes)

    # -- writes ----------------------------------------------------------------------------

    async def receive(self, chunks: AsyncIterator[bytes], size: int | None) -> Blob:
        """Stream ``chunks`` into a new private blob; checks the size limit and the announced size."""
        if size is not None and size > self.max_object_bytes:
            raise InvalidArgumentError(f"object of {size} bytes exceeds the limit of {self.max_object_bytes}")
        blob = await self._io(self.storage.new_blob)
        try:
            async for chunk in chunks:
                if blob.size + len(chunk) > self.max_object_bytes:
                    raise InvalidArgumentError(f"object exceeds the limit of {self.max_object_bytes} bytes")
                await self._io(blob.write, chunk)
            if size is not None and blob.size != size:
                raise InvalidArgumentError(f"announced {size} bytes but received {blob.size}")
        except BaseException:
            await self._io(blob.abort)
            raise
        return blob

    async def put(
        self, key_text: str, encoding: Encoding, size: int | None, chunks: AsyncIterator[bytes]
    ) -> ObjectInfo:
        key = ObjectKey.parse(key_text, prefix=True)
        return await self._commit_put(key, encoding, await self.receive(chunks, size))

    async def put_file(
        self, key_text: str, encoding: Encoding, path: Path, size: int, patch: bool
    ) -> ObjectInfo:
        """Put (or patch) with the bytes of ``path``, a complete file in the hand-over directory,
        which the storage takes over instead of receiving a stream."""
        key = ObjectKey.parse(key_text, prefix=not patch)
        if patch:
            self.stat(str(key))  # fail fast
        if size > self.max_object_bytes:
            raise InvalidArgumentError(f"object of {size} bytes exceeds the limit of {self.max_object_bytes}")
        try:
            blob = await self._io(self.storage.adopt, path)
        except OSError as exc:
            raise InvalidArgumentError(f"cannot take over {path.name}: {exc.strerror or exc}") from None
        if blob.size != size:
            await self._io(blob.abort)
            raise InvalidArgumentError(f"announced {size} bytes but the file has {blob.size}")
        if patch:
            return await self._commit_patch(str(key), encoding, blob)
        return await self._commit_put(key, encoding, blob)

    async def _commit_put(self, key: ObjectKey, encoding: Encoding, blob: Blob) -> ObjectInfo:
        if not key.is_full:
            key = key.child(new_object_id())
        try:
            async with self._lock:
                old = self._index.get(str(key))
                version = (old.version if old else 0) + 1
                info = ObjectInfo(str(key), version, version, secrets.token_hex(8), encoding, blob.size)
                await self._io(self.storage.commit_base, info, blob)
                self._index[info.key] = info
                if old is not None:
                    await self._retire(old)
        except BaseException:
            await self._io(blob.abort)
            raise
        return info

    async def patch(
        self, key_text: str, encoding: Encoding, size: int | None, chunks: AsyncIterator[bytes]
    ) -> ObjectInfo:
        key = str(ObjectKey.parse(key_text))
        self.stat(key)  # fail fast, before receiving the payload
        return await self._commit_patch(key, encoding, await self.receive(chunks, size))

    async def _commit_patch(self, key: str, encoding: Encoding, blob: Blob) -> ObjectInfo:
        try:
            async with self._lock:
                old = self.stat(key)
                delta = DeltaInfo(blob.size, encoding)
                info = replace(old, version=old.version + 1, deltas=(*old.deltas, delta))
                await self._io(self.storage.commit_delta, info, blob)
                self._index[key] = info
        except BaseException:
            await self._io(blob.abort)
            raise
        return info

    async def delete(self, pattern_text: str) -> int:
        pattern = ObjectKey.parse(pattern_text, prefix=True, wildcard=True)
        async with self._lock:
            victims = [info for k, info in self._index.items() if pattern.matches(ObjectKey.parse(k))]
            for info in victims:
                del self._index[info.key]
                await self._io(self.storage.delete, info)
                await self._retire(info)
        if victims:
            log.info("deleted %d object(s) matching %s", len(victims), pattern)
        return len(victims)

    # -- generations (under the lock) -------------------------------------------------------

    async def _retire(self, info: ObjectInfo) -> None:
        gen = (info.key, info.base_tag)
        if self._readers[gen] > 0:
            self._retired[gen] = info
        else:
            self._readers.pop(gen, None)
            await self._discard(info)

    async def _discard(self, info: ObjectInfo) -> None:
        try:
            await self._io(self.storage.discard, info)
        except OSError:
            log.exception("cannot remove the old bytes of %s", info.key)
