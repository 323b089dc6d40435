"""Object cache server settings (command line → this dataclass)."""

from __future__ import annotations

from dataclasses import dataclass

from flamepy.common.cache_convert import CHUNK_BYTES
from flamepy.tls import ServerTlsConfig
from object_cache.store import DEFAULT_MAX_OBJECT_BYTES

DEFAULT_PORT = 9090
DEFAULT_MEMORY_BUDGET = 512 * 1024**2


@dataclass(frozen=True)
class CacheConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT  # 0 picks a free port
    storage: str = "memory"  # "memory" or a directory
    memory_budget: int = DEFAULT_MEMORY_BUDGET  # bytes of hot objects kept in memory (disk storage)
    max_object_bytes: int = DEFAULT_MAX_OBJECT_BYTES
    chunk_bytes: int = CHUNK_BYTES
    port_file: str | None = None  # the bound port is written here once listening
    # who may call (docs/security.md): "token" (the cluster's client or node token) or "none"
    auth: str = "token"
    auth_dir: str | None = None  # client.token and node.token; required with token auth
    tls: ServerTlsConfig | None = None  # --tls-cert/--tls-key[/--tls-client-ca]: grpcs:// endpoint
