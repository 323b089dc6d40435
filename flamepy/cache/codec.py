"""Python objects ↔ stored bytes: ``bytes``-like objects stay raw, everything else is cloudpickled.

The encoding travels with each base and delta (:class:`~flamepy.common.cache_types.Encoding`), so a
``bytes`` object or an uploaded file comes back as the same raw bytes, never unpickled.
"""

from __future__ import annotations

import cloudpickle

from flamepy.common.cache_types import Encoding
from flamepy.errors import InvalidArgumentError


def encode(obj: object) -> tuple[Encoding, bytes | memoryview]:
    if isinstance(obj, bytes | bytearray | memoryview):
        return Encoding.RAW, memoryview(obj).cast("B")
    try:
        return Encoding.PICKLE, cloudpickle.dumps(obj, protocol=5)
    except Exception as exc:  # cloudpickle raises many kinds (PicklingError, TypeError, ...)
        raise InvalidArgumentError(f"cannot serialize {type(obj).__name__} object: {exc}") from exc


def decode(encoding: Encoding, data: bytes | memoryview) -> object:
    if encoding == Encoding.RAW:
        return bytes(data)
    return cloudpickle.loads(data)
