"""The module-level cache helpers and their default clients (one :class:`CacheClient` per endpoint).

The endpoint of a new object comes from ``load_context().cache_endpoint`` (``FLAME_CACHE_ENDPOINT``
overrides); an existing object is reached at ``ref.endpoint``. The default clients are the only
process-global connections of the cache; :func:`reset_default_clients` closes them (tests).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from flamepy.cache.client import CacheClient, Deserializer
from flamepy.common.cache_types import ObjectRef
from flamepy.config import load_context, parse_endpoint

_clients: dict[tuple[str, bool], CacheClient] = {}
_lock = threading.Lock()


def client_for(endpoint: str | None = None) -> CacheClient:
    """The default client of ``endpoint`` (default: the configured cache endpoint)."""
    endpoint = endpoint or load_context().cache_endpoint
    parsed = parse_endpoint(endpoint)
    ident = (parsed.target, parsed.tls)
    with _lock:
        client = _clients.get(ident)
        if client is None or client.closed:
            client = _clients[ident] = CacheClient(endpoint)
        return client


def reset_default_clients() -> None:
    """Close every default client; the next helper call opens a fresh one."""
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


def put_object(key_prefix: str, obj: object) -> ObjectRef:
    """Store ``obj``: ``"<app>/<session>"`` makes a new object, a full key overwrites (version + 1)."""
    return client_for().put_object(key_prefix, obj)


def get_object(ref: ObjectRef, deserializer: Deserializer | None = None) -> Any:
    """The base object, or ``deserializer(base, [deltas...])``."""
    return client_for(ref.endpoint).get_object(ref, deserializer)


def update_object(ref: ObjectRef, new_obj: object) -> ObjectRef:
    return client_for(ref.endpoint).update_object(ref, new_obj)


def patch_object(ref: ObjectRef, delta: object) -> ObjectRef:
    return client_for(ref.endpoint).patch_object(ref, delta)


def upload_object(key_or_prefix: str, file_path: str | os.PathLike[str]) -> ObjectRef:
    return client_for().upload_object(key_or_prefix, file_path)


def download_object(ref: ObjectRef, dest_path: str | os.PathLike[str]) -> None:
    client_for(ref.endpoint).download_object(ref, dest_path)


def delete_objects(key_prefix: str) -> int:
    """Delete a full key, ``"<app>/<session>"`` or ``"<app>/*"``; returns how many went."""
    return client_for().delete_objects(key_prefix)
