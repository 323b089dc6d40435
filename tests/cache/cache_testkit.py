"""A real object cache server on 127.0.0.1:0, in a background thread with its own event loop."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType

from object_cache.config import CacheConfig
from object_cache.server import CacheServer
from tests.support import drop_tokens, serve_tokens


class CacheServerThread:
    def __init__(
        self,
        storage: str | Path = "memory",
        memory_budget: int = 64 * 1024**2,
        port: int = 0,
        auth: str = "token",
    ) -> None:
        # token auth as deployed; the tokens live in a directory of this server's own
        self._auth_dir = tempfile.mkdtemp(prefix="flame-cache-auth-") if auth == "token" else None
        self.config = CacheConfig(
            port=port, storage=str(storage), memory_budget=memory_budget, auth=auth, auth_dir=self._auth_dir
        )
        self.server: CacheServer | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="cache-server", daemon=True)

    def _run(self, coro) -> object:
        fut: Future[object] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(timeout=30)

    def start(self) -> CacheServerThread:
        self._thread.start()

        async def start() -> None:
            self.server = CacheServer(self.config)
            await self.server.start()

        self._run(start())
        if self._auth_dir is not None:
            self.tokens = serve_tokens(f"127.0.0.1:{self.port}", self._auth_dir)
        return self

    def stop(self) -> None:
        if self.server is not None:
            drop_tokens(f"127.0.0.1:{self.port}")
            self._run(self.server.stop(0))
            self.server = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        if self._auth_dir is not None:
            shutil.rmtree(self._auth_dir, ignore_errors=True)

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        return self.server.endpoint

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.port

    def __enter__(self) -> CacheServerThread:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
