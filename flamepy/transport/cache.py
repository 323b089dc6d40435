"""The object cache's wire (``cache.proto``'s ObjectCache service) in our own types, for
:class:`flamepy.cache.client.CacheClient`.

Concurrency model: thread-safe; one gRPC channel per transport, every method blocks its caller
only; a get's data stream is consumed by the calling thread. Errors are FlameErrors (through
:mod:`flamepy._rpc`), streams included.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from flamepy import _rpc
from flamepy.common import cache_convert as _convert
from flamepy.common.cache_types import Encoding, GetMode, ObjectInfo
from flamepy.errors import InternalError
from flamepy.proto import cache_pb2, cache_pb2_grpc
from flamepy.tls import TlsConfig
from flamepy.transport.auth import open_channel


@dataclass(frozen=True, slots=True)
class GetHead:
    """What a get answers first: the object's metadata, and which of its segments follow."""

    info: ObjectInfo
    mode: GetMode
    first_delta: int
    delta_count: int


@dataclass(frozen=True, slots=True)
class Handover:
    """The server's same-host hand-over directory and the token it wrote there."""

    directory: str
    token: str


def _head(msg: cache_pb2.GetHeader) -> GetHead:
    mode = _convert.get_mode_from_pb(msg.mode)
    return GetHead(_convert.info_from_pb(msg.info), mode, msg.first_delta, msg.delta_count)


class CacheTransport:
    """The object cache at ``endpoint`` (``grpcs://``/``https://``: TLS, trusting ``tls_config``'s
    CA, else the configured CA file (``FLAME_CA_FILE``), else the system's roots)."""

    def __init__(
        self, endpoint: str, token: str | None = None, tls_config: TlsConfig | str | None = None
    ) -> None:
        # presents ``token`` or the one flamepy.transport.auth finds for this endpoint; grpcs://
        # endpoints trust ``tls_config``, else the configured CA
        self._channel = open_channel(endpoint, tls_config=tls_config, token=token)
        self._stub = cache_pb2_grpc.ObjectCacheStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> CacheTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def handover(self) -> Handover | None:
        """The hand-over directory the server offers, if any (raises for an older server)."""
        reply = _rpc.call(self._stub.GetHandover, cache_pb2.HandoverRequest(), what="cache hand-over")
        return Handover(reply.directory, reply.token) if reply.directory else None

    def write(
        self, key: str, encoding: Encoding, size: int, chunks: Iterator[bytes], patch: bool, what: str
    ) -> ObjectInfo:
        """Put (or patch) ``size`` bytes streamed from ``chunks``."""

        def requests() -> Iterator[cache_pb2.WriteRequest]:
            yield _convert.write_header(key, encoding, size)
            for chunk in chunks:
                yield _convert.write_chunk(chunk)

        rpc = self._stub.Patch if patch else self._stub.Put
        with _rpc.translate(what):
            response = rpc(requests())
        return _convert.info_from_pb(response.info)

    def put_file(
        self, key: str, encoding: Encoding, size: int, file_name: str, patch: bool, what: str
    ) -> ObjectInfo:
        """Put (or patch) the file ``file_name`` of the hand-over directory (the server takes it)."""
        header = _convert.write_header(key, encoding, size).header
        request = cache_pb2.PutFileRequest(header=header, file_name=file_name, patch=patch)
        return _convert.info_from_pb(_rpc.call(self._stub.PutFile, request, what=what).info)

    def get_file(
        self, key: str, have_tag: str, have_version: int, base_only: bool, what: str
    ) -> tuple[GetHead, list[str] | bytes]:
        """A get by hand-over: the head, and the names of the files made for it or the bytes inline."""
        req = _convert.get_request(key, have_tag, have_version, base_only)
        with _rpc.translate(what):
            response = self._stub.GetFile(req)
        head = _head(response.header)
        if response.WhichOneof("data") == "files":
            return head, list(response.files.names)
        return head, response.inline

    def get(
        self, key: str, have_tag: str, have_version: int, base_only: bool, what: str
    ) -> tuple[GetHead, Iterator[bytes]]:
        """A streamed get: the head, and the data chunks (to consume before the next call)."""
        req = _convert.get_request(key, have_tag, have_version, base_only)
        with _rpc.translate(what):
            stream = self._stub.Get(req)
            first = next(stream, None)
        if first is None or first.WhichOneof("part") != "header":
            raise InternalError(f"{what}: the cache server sent no header")
        return _head(first.header), _data(stream, what)

    def stat(self, key: str, what: str) -> ObjectInfo:
        return _convert.info_from_pb(_rpc.call(self._stub.Stat, cache_pb2.StatRequest(key=key), what=what))

    def delete(self, pattern: str, what: str) -> int:
        return int(_rpc.call(self._stub.Delete, cache_pb2.DeleteRequest(pattern=pattern), what=what).deleted)


def _data(stream: Iterator[cache_pb2.GetResponse], what: str) -> Iterator[bytes]:
    with _rpc.translate(what):
        for msg in stream:
            yield msg.data
