"""A client of one object cache endpoint: streaming put/get/patch/upload/download/delete.

Concurrency: thread-safe; one :class:`~flamepy.transport.cache.CacheTransport` (one gRPC channel)
per client. Payloads stream in 1 MiB chunks. Gets
negotiate with the server from what the bounded local cache holds, so a growing object costs only
its new deltas. :attr:`CacheClient.stats` counts the payload bytes moved.

On the same host as a server with disk storage, puts of :data:`HANDOVER_MIN_BYTES` or more and
gets go through files instead (``GetHandover`` / ``PutFile`` / ``GetFile`` in cache.proto): the
client writes a file the server renames into place, and reads files the server hard-linked for it,
so no payload byte crosses gRPC. ``handover=False`` turns that off.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from flamepy.cache import refs
from flamepy.cache.codec import decode, encode
from flamepy.cache.local import DEFAULT_MAX_BYTES, DEFAULT_MAX_ENTRIES, Held, LocalCache
from flamepy.common.cache_convert import CHUNK_BYTES
from flamepy.common.cache_keys import ObjectKey
from flamepy.common.cache_types import Encoding, GetMode, ObjectInfo, ObjectRef, TransferStats
from flamepy.config import load_context, parse_endpoint
from flamepy.errors import FlameError, InternalError, InvalidArgumentError, InvalidStateError
from flamepy.tls import TlsConfig
from flamepy.transport.cache import CacheTransport, GetHead

Deserializer = Callable[[Any, list[Any]], Any]
HANDOVER_MIN_BYTES = 1 << 20  # a smaller put streams (one message); a bigger one hands a file over


def _same_endpoint(a: str, b: str) -> bool:
    pa, pb = parse_endpoint(a), parse_endpoint(b)
    return (pa.target, pa.tls) == (pb.target, pb.tls)


class CacheClient:
    """A client of the object cache at ``endpoint`` (default: the config's cache endpoint)."""

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        chunk_bytes: int = CHUNK_BYTES,
        handover: bool = True,
        token: str | None = None,
        tls_config: TlsConfig | str | None = None,
    ) -> None:
        self.endpoint = endpoint or load_context().cache_endpoint
        # the cluster's token (``token``, else found as flamepy.transport.auth says); grpcs://
        # endpoints: tls_config (a CA file, or a TlsConfig with a client identity), else the
        # configured CA (FLAME_CA_FILE), else the system's roots
        self._wire = CacheTransport(self.endpoint, token, tls_config)
        self.local = LocalCache(max_entries, max_bytes)
        self.chunk_bytes = chunk_bytes
        self._stats = TransferStats()
        self._lock = threading.Lock()
        self._closed = False
        # the same-host hand-over directory: None = not looked for yet, False = none usable
        self._handover: Path | bool | None = None if handover else False

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.local.clear()
            self._wire.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> CacheClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CacheClient({self.endpoint!r}, {'closed' if self._closed else 'open'})"

    @property
    def stats(self) -> TransferStats:
        return self._stats

    def _count(self, **increments: int) -> None:
        with self._lock:
            s = self._stats
            self._stats = replace(s, **{k: getattr(s, k) + v for k, v in increments.items()})

    def _check_open(self, what: str) -> None:
        if self._closed:
            raise InvalidStateError(f"{what}: the cache client of {self.endpoint} is closed")

    def _full_key(self, ref: ObjectRef) -> str:
        if not isinstance(ref, ObjectRef):
            raise InvalidArgumentError(f"expected an ObjectRef, got {type(ref).__name__}")
        if not _same_endpoint(ref.endpoint, self.endpoint):
            raise InvalidArgumentError(f"{ref.key!r} lives at {ref.endpoint}, not at {self.endpoint}")
        return str(ObjectKey.parse(ref.key))

    def _ref(self, info: ObjectInfo) -> ObjectRef:
        return refs.ObjectRef(self.endpoint, info.key, info.version)

    # -- same-host file hand-over --------------------------------------------------------------

    def _handover_dir(self) -> Path | None:
        """The server's hand-over directory when it offers one that this process sees and can use
        (the token in it matches), else None; looked for once."""
        if self._handover is None:
            found: Path | bool = False
            try:
                reply = self._wire.handover()
            except FlameError:
                reply = None  # an older server, or none: stream
            if reply is not None:
                directory = Path(reply.directory)
                try:
                    if (directory / ".token").read_text() == reply.token and os.access(directory, os.W_OK):
                        found = directory
                except OSError:
                    pass
            self._handover = found
        return self._handover if isinstance(self._handover, Path) else None

    def _put_file(
        self, directory: Path, key: str, encoding: Encoding, data: bytes | memoryview, patch: bool, what: str
    ) -> ObjectInfo | None:
        """Put or patch by hand-over; None when the file could not be written (then stream)."""
        path = directory / f"put-{secrets.token_hex(8)}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except OSError:
            path.unlink(missing_ok=True)
            self._handover = False
            return None
        try:
            info = self._wire.put_file(key, encoding, len(data), path.name, patch, what)
        finally:
            path.unlink(missing_ok=True)  # gone already when the server took it over
        self._count(bytes_sent=len(data))
        return info

    def _get_file(
        self, directory: Path, key: str, held: Held | None, base_only: bool, what: str
    ) -> tuple[GetHead, list[bytes]]:
        """(head, segments) of a get by hand-over."""
        have_tag, have_version = (held.base_tag, held.version) if held else ("", 0)
        head, data = self._wire.get_file(key, have_tag, have_version, base_only, what)
        if isinstance(data, list):
            parts = []
            for name in data:
                path = directory / name
                try:
                    parts.append(path.read_bytes())
                except OSError as exc:
                    raise InternalError(f"{what}: cannot read the hand-over file {name}: {exc}") from exc
                finally:
                    path.unlink(missing_ok=True)
        else:
            parts = [data]
        self._count(bytes_received=sum(map(len, parts)))
        return head, parts

    # -- writes ------------------------------------------------------------------------------

    def _write(
        self, patch: bool, key: str, encoding: Encoding, size: int, chunks: Iterator[bytes], what: str
    ) -> ObjectInfo:
        self._check_open(what)

        def counted() -> Iterator[bytes]:
            for chunk in chunks:
                self._count(bytes_sent=len(chunk))
                yield chunk

        return self._wire.write(key, encoding, size, counted(), patch, what)

    def _chunks(self, data: bytes | memoryview) -> Iterator[bytes]:
        view = memoryview(data)
        for start in range(0, len(view), self.chunk_bytes):
            yield bytes(view[start : start + self.chunk_bytes])

    def _send(
        self, key: str, encoding: Encoding, data: bytes | memoryview, patch: bool, what: str
    ) -> ObjectInfo:
        """Put (or patch) ``data``: by file hand-over when it is big and the server is on this
        host, else streamed."""
        if len(data) >= HANDOVER_MIN_BYTES and (directory := self._handover_dir()) is not None:
            self._check_open(what)
            info = self._put_file(directory, key, encoding, data, patch, what)
            if info is not None:
                return info
        return self._write(patch, key, encoding, len(data), self._chunks(data), what)

    def _put(self, key: str, obj: object, what: str) -> ObjectRef:
        encoding, data = encode(obj)
        info = self._send(key, encoding, data, False, what)
        if len(data) <= self.local.max_bytes:
            self.local.put(Held(info.key, info.base_tag, info.base_version, encoding, bytes(data)))
        return self._ref(info)

    def put_object(self, key_prefix: str, obj: object) -> ObjectRef:
        """Store ``obj`` under ``"<app>/<session>"`` (new object id) or a full key (overwrite)."""
        key = str(ObjectKey.parse(key_prefix, prefix=True))
        return self._put(key, obj, f"put object {key}")

    def update_object(self, ref: ObjectRef, new_obj: object) -> ObjectRef:
        """Replace the object of ``ref`` (version + 1, deltas dropped)."""
        key = self._full_key(ref)
        return self._put(key, new_obj, f"update object {key}")

    def patch_object(self, ref: ObjectRef, delta: object) -> ObjectRef:
        """Append ``delta`` to the object of ``ref`` (version + 1); NotFoundError when it is absent."""
        key = self._full_key(ref)
        encoding, data = encode(delta)
        info = self._send(key, encoding, data, True, f"patch object {key}")
        held = self.local.get(key)
        if held is not None and held.base_tag == info.base_tag and held.version == info.version - 1:
            self.local.put(held.with_deltas(((encoding, bytes(data)),)))
        else:
            self.local.discard(key)
        return self._ref(info)

    def upload_object(
        self,
        key_or_prefix: str,
        file_path: str | os.PathLike[str],
        progress: Callable[[int], None] | None = None,
    ) -> ObjectRef:
        """Store the raw bytes of a file, streamed (never held in memory whole); ``progress`` is
        called with the size of each chunk as it is sent (a progress bar)."""
        key = str(ObjectKey.parse(key_or_prefix, prefix=True))
        path = Path(file_path)
        what = f"upload {path} to {key}"
        try:
            f = path.open("rb")
        except OSError as exc:
            raise InvalidArgumentError(f"{what}: {exc}") from exc
        with f:
            size = os.fstat(f.fileno()).st_size
            chunks: Iterator[bytes] = iter(lambda: f.read(self.chunk_bytes), b"")
            if progress is not None:
                chunks = _reporting(chunks, progress)
            info = self._write(False, key, Encoding.RAW, size, chunks, what)
        self.local.discard(info.key)
        return self._ref(info)

    # -- reads -------------------------------------------------------------------------------

    def _open_get(
        self, key: str, held: Held | None, base_only: bool, what: str
    ) -> tuple[Iterator[bytes], GetHead]:
        self._check_open(what)
        have_tag, have_version = (held.base_tag, held.version) if held else ("", 0)
        head, stream = self._wire.get(key, have_tag, have_version, base_only, what)
        self._count_mode(head.mode)
        return stream, head

    def _count_mode(self, mode: GetMode) -> None:
        if mode == GetMode.NOT_MODIFIED:
            self._count(not_modified_gets=1)
        elif mode == GetMode.DELTAS:
            self._count(delta_gets=1)
        else:
            self._count(full_gets=1)

    def _data(self, stream: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in stream:
            self._count(bytes_received=len(chunk))
            yield chunk

    def _fetch(self, key: str, held: Held | None, base_only: bool, what: str) -> Held:
        """The generation of ``key`` as of now, reusing ``held`` where the server allows."""
        directory = self._handover_dir()
        if directory is not None:
            self._check_open(what)
            header, received = self._get_file(directory, key, held, base_only, what)
            self._count_mode(header.mode)
        else:
            stream, header = self._open_get(key, held, base_only, what)
            received = [b"".join(self._data(stream))]
        info = header.info
        mode = header.mode
        if mode == GetMode.NOT_MODIFIED:
            assert held is not None
            return held
        wanted = info.deltas[header.first_delta : header.first_delta + header.delta_count]
        sizes: list[int] = ([info.base_size] if mode == GetMode.FULL else []) + [d.size for d in wanted]
        if [len(p) for p in received] == sizes:
            parts = received  # one file per segment
        else:
            data = received[0] if len(received) == 1 else b"".join(received)
            if sum(sizes) != len(data):
                raise InternalError(
                    f"{what}: expected {sum(sizes)} bytes from the cache server, got {len(data)}"
                )
            parts = _split(data, sizes)
        if mode == GetMode.FULL:
            base = parts.pop(0)
            fresh = Held(key, info.base_tag, info.base_version, info.encoding, base)
        else:
            assert held is not None
            fresh = held
        result = fresh.with_deltas(tuple((d.encoding, p) for d, p in zip(wanted, parts, strict=True)))
        self.local.put(result)
        return result

    def get_object(self, ref: ObjectRef, deserializer: Deserializer | None = None) -> Any:
        """The object's base, or ``deserializer(base, [delta, ...])`` with every delta in order.

        ``ref.version == 0`` ignores the local cache and downloads everything."""
        key = self._full_key(ref)
        held = None if ref.version == 0 else self.local.get(key)
        gen = self._fetch(key, held, deserializer is None, f"get object {key}")
        base = decode(gen.encoding, gen.base)
        if deserializer is None:
            return base
        return deserializer(base, [decode(enc, data) for enc, data in gen.deltas])

    def download_object(self, ref: ObjectRef, dest_path: str | os.PathLike[str]) -> None:
        """Stream the object's base bytes into ``dest_path`` (written atomically)."""
        key = self._full_key(ref)
        dest = Path(dest_path)
        what = f"download {key} to {dest}"
        held = None if ref.version == 0 else self.local.get(key)
        tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.part")
        try:
            with tmp.open("wb") as f:
                stream, header = self._open_get(key, held, True, what)
                if header.mode == GetMode.NOT_MODIFIED:
                    assert held is not None
                    f.write(held.base)
                for chunk in self._data(stream):
                    f.write(chunk)
                expected = header.info.base_size
                if f.tell() != expected:
                    raise InternalError(f"{what}: expected {expected} bytes, got {f.tell()}")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, dest)
        except OSError as exc:
            raise InvalidArgumentError(f"{what}: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)

    def stat(self, key: str) -> ObjectInfo:
        """The server's metadata of ``key`` (version, sizes, deltas)."""
        key = str(ObjectKey.parse(key))
        self._check_open(f"stat {key}")
        return self._wire.stat(key, f"stat object {key}")

    def delete_objects(self, key_prefix: str) -> int:
        """Delete a full key, every object of ``"<app>/<session>"`` or of ``"<app>/*"``; the count."""
        pattern = ObjectKey.parse(key_prefix, prefix=True, wildcard=True)
        what = f"delete objects {pattern}"
        self._check_open(what)
        deleted = self._wire.delete(str(pattern), what)
        self.local.discard_matching(pattern)
        return deleted


def _reporting(chunks: Iterator[bytes], progress: Callable[[int], None]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk
        progress(len(chunk))


def _split(data: bytes, sizes: Sequence[int]) -> list[bytes]:
    if len(sizes) == 1:
        return [data]
    view = memoryview(data)
    out, pos = [], 0
    for size in sizes:
        out.append(bytes(view[pos : pos + size]))
        pos += size
    return out
