from __future__ import annotations

from collections.abc import Iterator

import pytest
from sdk_fake import FakeServer

import flamepy


@pytest.fixture
def server() -> Iterator[FakeServer]:
    srv = FakeServer(ext=True)
    yield srv
    srv.stop()


@pytest.fixture
def plain_server() -> Iterator[FakeServer]:
    """A server with only flame.v1 Frontend (FrontendExt answers UNIMPLEMENTED)."""
    srv = FakeServer(ext=False)
    yield srv
    srv.stop()


@pytest.fixture
def conn(server: FakeServer) -> Iterator[flamepy.Connection]:
    with flamepy.connect(server.endpoint) as c:
        yield c


@pytest.fixture
def plain_conn(plain_server: FakeServer) -> Iterator[flamepy.Connection]:
    with flamepy.connect(plain_server.endpoint) as c:
        yield c
