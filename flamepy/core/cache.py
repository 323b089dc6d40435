"""flamepy 0.6.0's ``flamepy.core.cache``, over OUR object cache (gRPC, not Arrow Flight).

The helpers (``put_object`` ... ``delete_objects``), :class:`ObjectRef` and :class:`ObjectKey`
behave as in 0.6.0 and talk to our cache (:mod:`flamepy.cache`). 0.6.0's Arrow-specific names
(format and logical-type constants, ``CachePayload``, ``FetchResult`` ...) exist so that imports
keep working; our wire does not use them (see ``docs/compat.md``).
"""

from __future__ import annotations

import enum
import typing
from dataclasses import dataclass, field
from typing import Any

from flamepy.cache import (
    WILDCARD_SESSION,
    ObjectKey,
    ObjectRef,
    delete_objects,
    download_object,
    get_object,
    patch_object,
    put_object,
    update_object,
    upload_object,
)

__all__ = [
    "CACHE_FORMAT_ARROW_TABLE",
    "CACHE_FORMAT_METADATA_KEY",
    "CACHE_FORMAT_OPAQUE",
    "CACHE_LOGICAL_TYPE_METADATA_KEY",
    "CACHE_VERSION_METADATA_KEY",
    "GRPC_OPTIONS",
    "LOGICAL_TYPE_DATASET",
    "LOGICAL_TYPE_PANDAS_DATAFRAME",
    "LOGICAL_TYPE_POLARS_DATAFRAME",
    "LOGICAL_TYPE_PYARROW_RECORD_BATCH",
    "LOGICAL_TYPE_PYARROW_TABLE",
    "OBJECT_FIELD_DATA",
    "OBJECT_FIELD_VERSION",
    "OBJECT_RESPONSE_FIELD_KIND",
    "WILDCARD_SESSION",
    "CachePayload",
    "Deserializer",
    "FetchMode",
    "FetchResult",
    "Object",
    "ObjectKey",
    "ObjectRef",
    "ObjectResponseKind",
    "Patch",
    "delete_objects",
    "download_object",
    "get_object",
    "patch_object",
    "put_object",
    "update_object",
    "upload_object",
]

# 0.6.0's Arrow metadata keys and values (informational: our cache does not speak Arrow).
CACHE_FORMAT_METADATA_KEY = b"flame.cache.format"
CACHE_VERSION_METADATA_KEY = b"flame.cache.version"
CACHE_LOGICAL_TYPE_METADATA_KEY = b"flame.cache.logical_type"
CACHE_FORMAT_ARROW_TABLE = b"arrow-table-v1"
CACHE_FORMAT_OPAQUE = b"opaque-v1"
LOGICAL_TYPE_DATASET = "dataset"
LOGICAL_TYPE_PANDAS_DATAFRAME = "pandas.dataframe"
LOGICAL_TYPE_POLARS_DATAFRAME = "polars.dataframe"
LOGICAL_TYPE_PYARROW_RECORD_BATCH = "pyarrow.record_batch"
LOGICAL_TYPE_PYARROW_TABLE = "pyarrow.table"
OBJECT_FIELD_DATA = "data"
OBJECT_FIELD_VERSION = "version"
OBJECT_RESPONSE_FIELD_KIND = "kind"
GRPC_OPTIONS = None  # our cache client sets its own channel options

# ``deserializer(base, [deltas...])`` of ``get_object`` (the same shape as flamepy.cache's).
Deserializer = typing.Callable[[Any, typing.List[Any]], Any]  # noqa: UP006 - the alias value of 0.6.0


class FetchMode(str, enum.Enum):
    """How a get was answered: the whole object, or only the patches after a known version."""

    FULL = "full"
    PATCHES = "patches"


class ObjectResponseKind(str, enum.Enum):
    BASE = "base"
    PATCH = "patch"


@dataclass
class Patch:
    """One delta of an object, at ``version``."""

    version: int
    data: Any


@dataclass
class Object:
    """An object as a client holds it: the base at ``version`` and its patches."""

    version: int
    data: Any
    patches: list[Patch] = field(default_factory=list)
    materialized: Any = None


@dataclass
class FetchResult:
    mode: FetchMode
    version: int
    base: Any = None
    patches: list[Patch] = field(default_factory=list)


@dataclass
class CachePayload:
    """0.6.0's Arrow payload (schema + record batches); kept as a plain holder."""

    schema: Any
    batches: list[Any]
    native_arrow: bool
