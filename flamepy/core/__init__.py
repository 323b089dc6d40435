"""The core object-cache API in one place: keys, refs and every cache helper.

``flamepy`` itself exports the basics (``ObjectRef``, ``put_object``, ``get_object``,
``update_object``); this module adds keys, patches and file transfers.
"""

from __future__ import annotations

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
    "WILDCARD_SESSION",
    "ObjectKey",
    "ObjectRef",
    "delete_objects",
    "download_object",
    "get_object",
    "patch_object",
    "put_object",
    "update_object",
    "upload_object",
]
