"""The object cache process: an asyncio gRPC server around an :class:`ObjectStore`.

Concurrency model: one asyncio event loop runs every handler and the store; blocking disk I/O runs
in worker threads (``asyncio.to_thread``). Payloads stream in chunks, so a stream holds a few
chunks in memory at a time (plus what the LRU budget keeps).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import grpc

from flamepy.common.grpc_auth import server_interceptors, server_tokens
from flamepy.proto import cache_pb2_grpc
from flamepy.tls import server_credentials
from object_cache.config import CacheConfig
from object_cache.servicer import ObjectCacheServicer
from object_cache.storage import Storage, open_storage
from object_cache.store import ObjectStore

log = logging.getLogger(__name__)


class CacheServer:
    """Start with ``await start()`` (returns the bound port), stop with ``await stop()``."""

    def __init__(self, config: CacheConfig, storage: Storage | None = None) -> None:
        self.config = config
        self.storage = storage or open_storage(config.storage, config.memory_budget)
        self.store = ObjectStore(self.storage, config.max_object_bytes)
        self._server: grpc.aio.Server | None = None
        self.port = 0

    async def start(self) -> int:
        tokens = server_tokens(self.config.auth, self.config.auth_dir, "object cache")
        recovered = await self.store.start()
        limit = 4 * self.config.chunk_bytes + 1024 * 1024
        self._server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", limit),
                ("grpc.so_reuseport", 0),
            ],
            # credentials first, then decoding (malformed requests: INVALID_ARGUMENT naming the field)
            interceptors=server_interceptors(tokens),
        )
        servicer = ObjectCacheServicer(self.store, self.config.chunk_bytes)
        cache_pb2_grpc.add_ObjectCacheServicer_to_server(servicer, self._server)
        address = f"{self.config.host}:{self.config.port}"
        if self.config.tls is not None:
            self.port = self._server.add_secure_port(address, server_credentials(self.config.tls))
        else:
            self.port = self._server.add_insecure_port(address)
        if self.port == 0:
            raise OSError(f"cannot listen on {self.config.host}:{self.config.port}")
        await self._server.start()
        if self.config.port_file:
            _write_atomic(Path(self.config.port_file), str(self.port))
        log.info(
            "object cache listening on %s:%d (%s, storage %s, %d objects recovered)",
            self.config.host,
            self.port,
            "plaintext" if self.config.tls is None else "TLS",
            self.config.storage,
            recovered,
        )
        return self.port

    async def stop(self, grace: float = 1.0) -> None:
        if self._server is not None:
            await self._server.stop(grace)
        self.store.close()
        log.info("object cache stopped")

    async def __aenter__(self) -> CacheServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def endpoint(self) -> str:
        host = "127.0.0.1" if self.config.host in ("0.0.0.0", "::", "[::]") else self.config.host
        scheme = "grpc" if self.config.tls is None else "grpcs"
        return f"{scheme}://{host}:{self.port}"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
