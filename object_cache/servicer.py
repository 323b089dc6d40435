"""The ``flamepy.cache.v1.ObjectCache`` servicer: decode, call the store, encode."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

import grpc

from flamepy.cache import _convert
from flamepy.errors import InvalidArgumentError
from flamepy.proto import cache_pb2, cache_pb2_grpc
from object_cache.store import ObjectStore
from session_manager.grpc_errors import stream, unary


async def _split(
    requests: AsyncIterator[cache_pb2.WriteRequest],
) -> tuple[cache_pb2.WriteHeader, AsyncIterator[bytes]]:
    """The header of a write stream, and an iterator over its data chunks."""
    first = await anext(aiter(requests), None)
    if first is None or first.WhichOneof("part") != "header":
        raise InvalidArgumentError("a write stream must start with a header")

    async def chunks() -> AsyncIterator[bytes]:
        async for req in requests:
            if req.WhichOneof("part") != "data":
                raise InvalidArgumentError("a write stream has one header, then data only")
            yield req.data

    return first.header, chunks()


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
        plan = self.store.plan_get(request.key, request.have_tag, request.have_version, request.base_only)
        yield _convert.get_header(plan.info, plan.mode, plan.first_delta, plan.delta_count)
        async with aclosing(self.store.read(plan, self.chunk_bytes)) as data:
            async for chunk in data:
                yield _convert.get_chunk(chunk)

    @unary
    async def Delete(
        self, request: cache_pb2.DeleteRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.DeleteResponse:
        return cache_pb2.DeleteResponse(deleted=await self.store.delete(request.pattern))

    @unary
    async def Stat(
        self, request: cache_pb2.StatRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.ObjectInfo:
        return _convert.info_to_pb(self.store.stat(request.key))
