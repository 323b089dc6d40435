"""The object cache's boundary dataclasses, shared by the client and the server."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Encoding(enum.IntEnum):
    """How stored bytes are read back (the wire values of ``flamepy.cache.v1.Encoding``)."""

    PICKLE = 1  # a cloudpickled Python object
    RAW = 2  # raw bytes: a ``bytes`` object or an uploaded file


@dataclass(frozen=True)
class ObjectRef:
    """Where an object lives and which version the holder saw.

    ``version`` >= 1 for a stored object; 0 forces a full download on the next get."""

    endpoint: str  # cache endpoint, e.g. "grpc://127.0.0.1:9090"
    key: str  # "<application>/<session>/<object id>"
    version: int


@dataclass(frozen=True)
class DeltaInfo:
    size: int
    encoding: Encoding


@dataclass(frozen=True)
class ObjectInfo:
    """One object's metadata: a base plus ordered deltas; ``version == base_version + len(deltas)``."""

    key: str
    version: int
    base_version: int
    base_tag: str
    encoding: Encoding
    base_size: int
    deltas: tuple[DeltaInfo, ...] = ()

    @property
    def deltas_size(self) -> int:
        return sum(d.size for d in self.deltas)

    @property
    def total_size(self) -> int:
        return self.base_size + self.deltas_size


class GetMode(enum.IntEnum):
    """The server's answer to a get (the wire values of ``flamepy.cache.v1.GetMode``)."""

    NOT_MODIFIED = 1
    DELTAS = 2
    FULL = 3


@dataclass(frozen=True)
class TransferStats:
    """Payload bytes a :class:`~flamepy.cache.CacheClient` moved, and how its gets were answered."""

    bytes_sent: int = 0
    bytes_received: int = 0
    full_gets: int = 0
    delta_gets: int = 0
    not_modified_gets: int = 0
