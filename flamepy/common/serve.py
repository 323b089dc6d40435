"""The serve-until-signal loop every server process runs (session manager, object cache, executor
manager): set up logging, start the server, wait for SIGTERM/SIGINT, stop it.

Concurrency: one asyncio loop, owned by :func:`run_until_signal`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Protocol

from flamepy.errors import FlameError

log = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class Startable(Protocol):
    async def start(self) -> object: ...

    async def stop(self) -> object: ...


def setup_logging(level: str) -> None:
    """Log lines to stderr at ``level`` (a name such as ``INFO``; unknown names mean INFO)."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO), format=LOG_FORMAT, stream=sys.stderr
    )


def stop_event() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (call inside the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def serve_until_signal(server: Startable) -> None:
    """Start ``server``, wait for SIGTERM/SIGINT, then stop it (also when the wait is cancelled)."""
    stop = stop_event()
    await server.start()
    try:
        await stop.wait()
    finally:
        await server.stop()


def run_until_signal(main: Callable[[], Awaitable[None]], log_level: str) -> int:
    """Run ``main()`` on a fresh loop with logging set up; exit status 0, or 2 on a configuration
    error (a :class:`FlameError`, logged as one line)."""
    setup_logging(log_level)
    try:
        asyncio.run(main())  # type: ignore[arg-type]
    except FlameError as exc:
        log.error("%s", exc)
        return 2
    return 0
