from __future__ import annotations

from collections.abc import Iterator

import pytest

import flamepy
from flamepy.transport.memory import MemoryTransport


@pytest.fixture
def memory() -> MemoryTransport:
    return MemoryTransport()


@pytest.fixture
def plain() -> MemoryTransport:
    """A server without a session-wide watch or batched creates (plain flame.v1)."""
    return MemoryTransport(session_watch=False)


@pytest.fixture
def conn(memory: MemoryTransport) -> Iterator[flamepy.Connection]:
    with flamepy.Connection.over(memory) as c:
        yield c


@pytest.fixture
def plain_conn(plain: MemoryTransport) -> Iterator[flamepy.Connection]:
    with flamepy.Connection.over(plain) as c:
        yield c
