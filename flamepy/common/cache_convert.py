"""The one module (besides the servicer) that touches ``cache_pb2``: dataclasses ↔ messages."""

from __future__ import annotations

from flamepy.common.cache_types import DeltaInfo, Encoding, GetMode, ObjectInfo
from flamepy.errors import InvalidArgumentError
from flamepy.proto import cache_pb2

CHUNK_BYTES = 1024 * 1024  # payload bytes per streamed message (well under gRPC's 4 MiB limit)


def encoding_from_pb(value: int) -> Encoding:
    try:
        return Encoding(value)
    except ValueError:
        raise InvalidArgumentError(f"unknown object encoding {value}") from None


def info_to_pb(info: ObjectInfo) -> cache_pb2.ObjectInfo:
    return cache_pb2.ObjectInfo(
        key=info.key,
        version=info.version,
        base_version=info.base_version,
        base_tag=info.base_tag,
        encoding=int(info.encoding),
        base_size=info.base_size,
        deltas=[cache_pb2.DeltaInfo(size=d.size, encoding=int(d.encoding)) for d in info.deltas],
    )


def info_from_pb(msg: cache_pb2.ObjectInfo) -> ObjectInfo:
    return ObjectInfo(
        key=msg.key,
        version=msg.version,
        base_version=msg.base_version,
        base_tag=msg.base_tag,
        encoding=encoding_from_pb(msg.encoding),
        base_size=msg.base_size,
        deltas=tuple(DeltaInfo(d.size, encoding_from_pb(d.encoding)) for d in msg.deltas),
    )


def write_header(key: str, encoding: Encoding, size: int | None) -> cache_pb2.WriteRequest:
    return cache_pb2.WriteRequest(header=cache_pb2.WriteHeader(key=key, encoding=int(encoding), size=size))


def write_chunk(data: bytes) -> cache_pb2.WriteRequest:
    return cache_pb2.WriteRequest(data=data)


def get_request(key: str, have_tag: str, have_version: int, base_only: bool) -> cache_pb2.GetRequest:
    return cache_pb2.GetRequest(key=key, have_tag=have_tag, have_version=have_version, base_only=base_only)


def get_header(info: ObjectInfo, mode: GetMode, first_delta: int, delta_count: int) -> cache_pb2.GetResponse:
    header = cache_pb2.GetHeader(
        info=info_to_pb(info), mode=int(mode), first_delta=first_delta, delta_count=delta_count
    )
    return cache_pb2.GetResponse(header=header)


def get_chunk(data: bytes) -> cache_pb2.GetResponse:
    return cache_pb2.GetResponse(data=data)


def get_mode_from_pb(value: int) -> GetMode:
    try:
        return GetMode(value)
    except ValueError:
        raise InvalidArgumentError(f"unknown get mode {value} from the cache server") from None
