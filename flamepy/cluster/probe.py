"""Bounded waiting for the local cluster: poll a predicate with a deadline, and check a port.

Concurrency model: synchronous; the caller's thread sleeps between polls.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TypeVar

from flamepy.errors import UnavailableError

T = TypeVar("T")


class ClusterStartError(UnavailableError):
    """The local cluster did not come up; the message carries the end of the relevant log."""


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """Call ``predicate`` until it returns a truthy value (returned) or ``timeout`` seconds pass
    (``TimeoutError``). The one bounded poll of the local cluster; an exception from
    ``predicate`` aborts the wait."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{what} not reached within {timeout:.0f}s")
        time.sleep(min(interval, remaining))


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` right now (another process may take it before it is used)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host.strip("[]"), 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when ``host:port`` can be bound right now (port 0 is always free)."""
    if port == 0:
        return True
    host = host.strip("[]")
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def check_ports_free(host: str, **ports: int) -> None:
    """Raise :class:`ClusterStartError` naming the first of ``ports`` (``port=8080``,
    ``cache_port=9090``) that cannot be bound on ``host``."""
    for what, port in ports.items():
        if not port_is_free(port, host):
            raise ClusterStartError(
                f"{what.replace('_', ' ')} {port} on {host} is already in use "
                "(another Flame cluster? use a different port, or 0 for any free port)"
            )
