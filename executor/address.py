"""The address other nodes reach this node at (``--advertise-address`` / ``FLAME_NODE_ADDRESS``).

Given to every service as ``FLAME_NODE_ADDRESS``; multi-rank jobs publish rank 0's as their
``MASTER_ADDR`` (:mod:`flamepy.apps.rendezvous`). Default: the address of the interface that routes
to the session manager (a connected UDP socket: no packet is sent), or ``127.0.0.1`` when the
session manager is on loopback or the route cannot be found.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

ENV = "FLAME_NODE_ADDRESS"
LOOPBACK = "127.0.0.1"

__all__ = ["ENV", "LOOPBACK", "advertise_address", "route_address"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def route_address(endpoint: str) -> str:
    """The local address of the route to ``endpoint``'s host; ``127.0.0.1`` for a loopback one."""
    parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    host = parts.hostname or LOOPBACK
    if _is_loopback(host):
        return LOOPBACK
    try:
        family = socket.getaddrinfo(host, parts.port or 80, proto=socket.IPPROTO_UDP)[0]
        with socket.socket(family[0], socket.SOCK_DGRAM) as probe:
            probe.connect(family[4])
            return str(probe.getsockname()[0])
    except OSError as exc:
        log.warning("no route to %s found (%s): advertising %s", host, exc, LOOPBACK)
        return LOOPBACK


def advertise_address(given: str | None, env: dict[str, str], endpoint: str) -> str:
    """``given`` (``--advertise-address``), else ``FLAME_NODE_ADDRESS``, else :func:`route_address`."""
    return (given or env.get(ENV) or "").strip() or route_address(endpoint)
