"""Where a local cluster listens and how it is reached: ``flmctl cluster up --host ADDR``.

A sans-IO decision, made before anything is bound: :func:`plan_listen` takes the listen address,
the advertised host, TLS and ``allow_plaintext`` and returns a :class:`ListenPlan` (the address the
session manager and the object cache bind, the host local clients use, the host services on other
nodes use), or refuses a non-loopback address without TLS unless plaintext is explicitly allowed:
the client and node tokens would otherwise cross the network in clear text.

Concurrency model: synchronous, no I/O except :func:`default_advertise_host` (resolves this host).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from flamepy.errors import InvalidArgumentError

LOOPBACK_HOST = "127.0.0.1"
WILDCARDS = ("0.0.0.0", "::", "[::]", "")


@dataclass(frozen=True)
class ListenPlan:
    bind_host: str  # what the servers listen on (--host)
    local_host: str  # what clients on this machine connect to
    advertise_host: str  # what services and nodes elsewhere connect to

    @property
    def server_host(self) -> str:
        """``bind_host`` as the servers' ``--host`` takes it (``host:port``: IPv6 in brackets)."""
        return url_host(self.bind_host)

    @property
    def advertises(self) -> bool:
        """True when services must be told an address other than the local one."""
        return self.advertise_host != self.local_host

    def url(self, scheme: str, port: int, advertised: bool = False) -> str:
        return f"{scheme}://{url_host(self.advertise_host if advertised else self.local_host)}:{port}"


def is_wildcard(host: str) -> bool:
    return host in WILDCARDS


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost``; a name is resolved by nobody here."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url_host(host: str) -> str:
    """``host`` as it goes into a URL (an IPv6 address in brackets)."""
    bare = host.strip("[]")
    return f"[{bare}]" if ":" in bare else bare


def default_advertise_host() -> str:
    """This host's primary address, else its name (what a wildcard listener advertises)."""
    name = socket.gethostname()
    try:
        address = socket.gethostbyname(name)
    except OSError:
        return name
    return name if is_loopback(address) else address


def plan_listen(
    host: str = LOOPBACK_HOST,
    advertise_host: str | None = None,
    tls: bool = False,
    allow_plaintext: bool = False,
) -> ListenPlan:
    """Decide where to listen; raises :class:`InvalidArgumentError` for a non-loopback ``host``
    without ``tls`` unless ``allow_plaintext``."""
    host = host.strip()
    if not is_loopback(host) and not tls and not allow_plaintext:
        shown = host or "0.0.0.0"
        raise InvalidArgumentError(
            f"refusing to listen on {shown} without TLS: tokens and task data would cross the network "
            "in clear text; add --tls (or --allow-plaintext on a network you trust)"
        )
    local = LOOPBACK_HOST if is_wildcard(host) else host.strip("[]")
    if advertise_host is None:
        advertise_host = default_advertise_host() if is_wildcard(host) else local
    return ListenPlan(host or "0.0.0.0", local, advertise_host.strip("[]"))
