"""flamepy 0.6.0's package storage backends, over our object cache and the local file system.

A backend stores the Runner's code package and answers its URL:

- :class:`FileStorage` (``file:///dir``): a shared directory;
- :class:`CacheStorage` (``grpc://host:port``, the default): our object cache, key
  ``<app_name>/pkg/<filename>``, URL ``grpc://host:port/<app_name>/pkg/<filename>``;
- :class:`HttpStorage` (``http(s)://``): downloads work (plain GET); uploads and deletes need a
  web server that accepts them, which 0.6.0 assumed and we do not ship, so they raise
  :class:`~flamepy.errors.InvalidConfigError` saying so.

Our own :class:`~flamepy.runner.Runner` keeps its packages content-addressed in the cache
(:mod:`flamepy.runner.package`); these classes are for code written against 0.6.0.
"""

from __future__ import annotations

import abc
import shutil
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from flamepy.cache import ObjectRef, delete_objects, download_object, upload_object
from flamepy.config import load_context, parse_endpoint
from flamepy.errors import InvalidConfigError

__all__ = ["CacheStorage", "FileStorage", "HttpStorage", "StorageBackend", "create_storage_backend"]


class StorageBackend(abc.ABC):
    """Where packages go: ``upload`` answers the URL, ``download`` and ``delete`` take the file name."""

    @abc.abstractmethod
    def upload(self, local_path: str, filename: str) -> str: ...

    @abc.abstractmethod
    def delete(self, filename: str) -> None: ...

    @abc.abstractmethod
    def download(self, filename: str, local_path: str) -> None: ...


class FileStorage(StorageBackend):
    """A directory every node can read, given as ``file:///path`` (it must exist)."""

    def __init__(self, storage_base: str) -> None:
        parsed = urlparse(storage_base)
        if parsed.scheme != "file":
            raise InvalidConfigError(f"invalid file storage URL {storage_base!r}: expected file:///path")
        self._dir = Path(parsed.path)
        if not self._dir.is_dir():
            raise InvalidConfigError(f"storage directory {self._dir} does not exist")

    def upload(self, local_path: str, filename: str) -> str:
        target = self._dir / filename
        shutil.copyfile(local_path, target)
        return f"file://{target}"

    def delete(self, filename: str) -> None:
        (self._dir / filename).unlink(missing_ok=True)

    def download(self, filename: str, local_path: str) -> None:
        shutil.copyfile(self._dir / filename, local_path)


class HttpStorage(StorageBackend):
    """Packages on a web server: ``download`` GETs ``<storage_base>/<filename>``."""

    def __init__(
        self,
        storage_base: str,
        upload_timeout: int = 300,
        delete_timeout: int = 60,
        download_timeout: int = 300,
    ) -> None:
        if urlparse(storage_base).scheme not in ("http", "https"):
            raise InvalidConfigError(f"invalid http storage URL {storage_base!r}")
        self._base = storage_base.rstrip("/")
        self.upload_timeout, self.delete_timeout = upload_timeout, delete_timeout
        self.download_timeout = download_timeout

    def _unsupported(self, what: str) -> InvalidConfigError:
        return InvalidConfigError(
            f"HttpStorage cannot {what} at {self._base}: this SDK ships no upload server; "
            "use package.storage file:///dir or leave it unset (the object cache)"
        )

    def upload(self, local_path: str, filename: str) -> str:
        raise self._unsupported("upload")

    def delete(self, filename: str) -> None:
        raise self._unsupported("delete")

    def download(self, filename: str, local_path: str) -> None:
        url = f"{self._base}/{filename}"
        with urllib.request.urlopen(url, timeout=self.download_timeout) as resp:
            Path(local_path).write_bytes(resp.read())


class CacheStorage(StorageBackend):
    """Packages in our object cache (``storage_base`` ``grpc://host:port``, default: configured)."""

    def __init__(self, storage_base: str | None = None, app_name: str | None = None) -> None:
        base = storage_base or load_context().cache_endpoint
        if urlparse(base).scheme not in ("grpc", "grpcs"):
            raise InvalidConfigError(f"invalid cache storage URL {base!r}: expected grpc://host:port")
        parsed = parse_endpoint(base, default_port=9090)
        self._endpoint = f"{'grpcs' if parsed.tls else 'grpc'}://{parsed.target}"
        self._app_name = app_name

    def _key(self, filename: str) -> str:
        if not self._app_name:
            raise InvalidConfigError("CacheStorage needs app_name to store packages")
        return f"{self._app_name}/pkg/{filename}"

    def upload(self, local_path: str, filename: str) -> str:
        ref = upload_object(self._key(filename), local_path)
        return f"{self._endpoint}/{ref.key}"

    def delete(self, filename: str) -> None:
        delete_objects(self._key(filename))

    def download(self, filename: str, local_path: str) -> None:
        download_object(ObjectRef(self._endpoint, self._key(filename)), local_path)


def create_storage_backend(storage_base: str | None = None, app_name: str | None = None) -> StorageBackend:
    """The backend for ``storage_base``'s scheme (None: the object cache)."""
    scheme = urlparse(storage_base).scheme if storage_base else "grpc"
    if scheme == "file":
        return FileStorage(storage_base or "")
    if scheme in ("http", "https"):
        return HttpStorage(storage_base or "")
    if scheme in ("grpc", "grpcs"):
        return CacheStorage(storage_base, app_name=app_name)
    raise InvalidConfigError(
        f"unsupported storage scheme {scheme!r}: use file://, http://, https://, grpc:// or grpcs://"
    )
