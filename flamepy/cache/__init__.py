"""The object cache client: versioned objects shared by sessions.

    ref = put_object("my-app/ssn-1", {"weights": ...})      # new object, version 1
    obj = get_object(ref)
    ref = patch_object(ref, [1, 2, 3])                       # append a delta, version 2
    merged = get_object(ref, lambda base, deltas: ...)       # only new deltas are transferred
    delete_objects("my-app/*")

Objects are cloudpickled; ``bytes``-like objects and uploaded files are stored raw and come back
as ``bytes`` (each base and delta carries its encoding). Errors are the flamepy error tree: a bad
key raises InvalidArgumentError, an unknown key NotFoundError, an unreachable server
UnavailableError.
"""

from __future__ import annotations

from flamepy.cache.api import (
    client_for,
    delete_objects,
    download_object,
    get_object,
    patch_object,
    put_object,
    reset_default_clients,
    update_object,
    upload_object,
)
from flamepy.cache.client import CacheClient
from flamepy.cache.refs import ObjectKey, ObjectRef
from flamepy.common.cache_keys import WILDCARD_SESSION
from flamepy.common.cache_types import DeltaInfo, Encoding, ObjectInfo, TransferStats

__all__ = [
    "WILDCARD_SESSION",
    "CacheClient",
    "DeltaInfo",
    "Encoding",
    "ObjectInfo",
    "ObjectKey",
    "ObjectRef",
    "TransferStats",
    "client_for",
    "delete_objects",
    "download_object",
    "get_object",
    "patch_object",
    "put_object",
    "reset_default_clients",
    "update_object",
    "upload_object",
]
