"""``python -m object_cache`` / ``flame-object-cache``: run the object cache until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import sys

from flamepy.common.credentials import AUTH_MODES
from flamepy.common.serve import run_until_signal, serve_until_signal
from flamepy.config import load_context
from flamepy.errors import FlameError
from flamepy.tls import add_tls_args, server_tls
from flamepy.types import parse_memory
from object_cache.config import DEFAULT_MEMORY_BUDGET, DEFAULT_PORT, CacheConfig
from object_cache.server import CacheServer


def parse_args(argv: list[str] | None) -> tuple[CacheConfig, str]:
    p = argparse.ArgumentParser(prog="flame-object-cache", description="Flame object cache")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any)")
    p.add_argument(
        "--storage",
        help="a directory (durable) or 'memory' (default: FLAME_CACHE_STORAGE / config, else memory)",
    )
    p.add_argument(
        "--memory-budget",
        default=str(DEFAULT_MEMORY_BUDGET),
        help="bytes of hot objects kept in memory with disk storage, e.g. 512m (default 512m)",
    )
    p.add_argument("--port-file", help="write the bound port here once listening")
    p.add_argument(
        "--auth",
        choices=AUTH_MODES,
        default="token",
        help="token (default): callers need the cluster's client or node token; none: anyone who "
        "reaches the port may read and write objects",
    )
    p.add_argument("--auth-dir", help="directory of the cluster's client.token and node.token (token auth)")
    add_tls_args(p)
    p.add_argument("--log-level", default="INFO")
    a = p.parse_args(argv)
    try:
        budget = parse_memory(a.memory_budget)
        tls = server_tls(a.tls_cert, a.tls_key, a.tls_client_ca)
    except FlameError as exc:
        p.error(exc.message)
    storage = a.storage or load_context().cache_storage or "memory"
    cfg = CacheConfig(
        host=a.host,
        port=a.port,
        storage=storage,
        memory_budget=budget,
        port_file=a.port_file,
        auth=a.auth,
        auth_dir=a.auth_dir,
        tls=tls,
    )
    return cfg, a.log_level


async def serve(cfg: CacheConfig) -> None:
    await serve_until_signal(CacheServer(cfg))


def main(argv: list[str] | None = None) -> int:
    cfg, level = parse_args(argv)
    return run_until_signal(lambda: serve(cfg), level)


if __name__ == "__main__":
    sys.exit(main())
