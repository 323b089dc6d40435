"""The ``flamepy.cache.v1.ObjectCache`` servicer: decode, call the store, encode."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path

import grpc

from flamepy.common import cache_convert as _convert
from flamepy.common.bounds import quote
from flamepy.common.cache_keys import MAX_PART_BYTES
from flamepy.common.grpc_status import stream, unary
from flamepy.errors import InvalidArgumentError, InvalidStateError
from flamepy.proto import cache_pb2, cache_pb2_grpc
from object_cache.store import ObjectStore

HANDOVER_INLINE_BELOW = 1 << 20  # a same-host get of less than this comes inline, not as files
_FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
# decode-time bounds: a key is three parts of at most MAX_PART_BYTES; a base tag is a short token
MAX_KEY_BYTES = 3 * MAX_PART_BYTES + 2
MAX_TAG_BYTES = 255


def _bounded(value: str, what: str, most: int) -> str:
    """``value`` when at most ``most`` bytes long; InvalidArgumentError naming ``what`` else."""
    size = len(value) if value.isascii() else len(value.encode())
    if size > most:
        raise InvalidArgumentError(f"{what} is {size} bytes, at most {most}: {quote(value)}")
    return value


def _key(value: str) -> str:
    return _bounded(value, "key", MAX_KEY_BYTES)


def _get_args(request: cache_pb2.GetRequest) -> tuple[str, str, int, bool]:
    tag = _bounded(request.have_tag, "have_tag", MAX_TAG_BYTES)
    return _key(request.key), tag, request.have_version, request.base_only


async def _split(
    requests: AsyncIterator[cache_pb2.WriteRequest],
) -> tuple[cache_pb2.WriteHeader, AsyncIterator[bytes]]:
    """The header of a write stream, and an iterator over its data chunks."""
    first = await anext(aiter(requests), None)
    if first is None or first.WhichOneof("part") != "header":
        raise InvalidArgumentError("a write stream must start with a header")
    _key(first.header.key)

    async def chunks() -> AsyncIterator[bytes]:
        async for req in requests:
            if req.WhichOneof("part") != "data":
                raise InvalidArgumentError("a write stream has one header, then data only")
            yield req.data

    return first.header, chunks()


def handover_file(directory: Path, name: str) -> Path:
    """The regular file ``name`` directly in the hand-over directory; InvalidArgumentError else."""
    if not _FILE_NAME.fullmatch(name):
        raise InvalidArgumentError(f"invalid hand-over file name {quote(name)}")
    path = directory / name
    try:
        st = os.lstat(path)
    except OSError:
        raise InvalidArgumentError(f"no hand-over file {name!r}") from None
    if not stat.S_ISREG(st.st_mode):
        raise InvalidArgumentError(f"hand-over file {name!r} is not a regular file")
    return path


class ObjectCacheServicer(cache_pb2_grpc.ObjectCacheServicer):
    def __init__(self, store: ObjectStore, chunk_bytes: int) -> None:
        self.store = store
        self.chunk_bytes = chunk_bytes

    @unary
    async def Put(self, request_iterator, context: grpc.aio.ServicerContext) -> cache_pb2.WriteResponse:
        header, chunks = await _split(request_iterator)
        size = header.size if header.HasField("size") else None
        encoding = _convert.encoding_from_pb(header.encoding)
        info = await self.store.put(header.key, encoding, size, chunks)
        return cache_pb2.WriteResponse(info=_convert.info_to_pb(info))

    @unary
    async def Patch(self, request_iterator, context: grpc.aio.ServicerContext) -> cache_pb2.WriteResponse:
        header, chunks = await _split(request_iterator)
        size = header.size if header.HasField("size") else None
        encoding = _convert.encoding_from_pb(header.encoding)
        info = await self.store.patch(header.key, encoding, size, chunks)
        return cache_pb2.WriteResponse(info=_convert.info_to_pb(info))

    @stream
    async def Get(
        self, request: cache_pb2.GetRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[cache_pb2.GetResponse]:
        plan = self.store.plan_get(*_get_args(request))
        yield _convert.get_header(plan.info, plan.mode, plan.first_delta, plan.delta_count)
        async with aclosing(self.store.read(plan, self.chunk_bytes)) as data:
            async for chunk in data:
                yield _convert.get_chunk(chunk)

    # -- same-host file hand-over (see cache.proto) -------------------------------------------

    def _handover(self) -> Path:
        found = self.store.storage.handover()
        if found is None:
            raise InvalidStateError("this cache server's storage offers no file hand-over")
        return found[0]

    @unary
    async def GetHandover(
        self, request: cache_pb2.HandoverRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.Handover:
        found = self.store.storage.handover()
        if found is None:
            return cache_pb2.Handover()
        return cache_pb2.Handover(directory=str(found[0]), token=found[1])

    @unary
    async def PutFile(
        self, request: cache_pb2.PutFileRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.WriteResponse:
        header = request.header
        _key(header.key)
        if not header.HasField("size"):
            raise InvalidArgumentError("PutFile: the header must give the size")
        path = handover_file(self._handover(), request.file_name)
        encoding = _convert.encoding_from_pb(header.encoding)
        info = await self.store.put_file(header.key, encoding, path, header.size, request.patch)
        return cache_pb2.WriteResponse(info=_convert.info_to_pb(info))

    @unary
    async def GetFile(
        self, request: cache_pb2.GetRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.GetFileResponse:
        plan, data = await self.store.export(
            *_get_args(request),
            self._handover(),
            HANDOVER_INLINE_BELOW,
        )
        header = _convert.get_header(plan.info, plan.mode, plan.first_delta, plan.delta_count).header
        if isinstance(data, bytes):
            return cache_pb2.GetFileResponse(header=header, inline=data)
        return cache_pb2.GetFileResponse(header=header, files=cache_pb2.FileNames(names=data))

    @unary
    async def Delete(
        self, request: cache_pb2.DeleteRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.DeleteResponse:
        pattern = _bounded(request.pattern, "pattern", MAX_KEY_BYTES)
        return cache_pb2.DeleteResponse(deleted=await self.store.delete(pattern))

    @unary
    async def Stat(
        self, request: cache_pb2.StatRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.ObjectInfo:
        return _convert.info_to_pb(self.store.stat(_key(request.key)))
