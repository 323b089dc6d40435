from __future__ import annotations

from collections.abc import Iterator

import pytest
from cache_testkit import CacheServerThread

from flamepy.cache import CacheClient, reset_default_clients


@pytest.fixture
def server() -> Iterator[CacheServerThread]:
    with CacheServerThread() as srv:
        yield srv


@pytest.fixture
def disk_server(tmp_path) -> Iterator[CacheServerThread]:
    with CacheServerThread(tmp_path / "store", memory_budget=1024**2) as srv:
        yield srv


@pytest.fixture
def client(server: CacheServerThread) -> Iterator[CacheClient]:
    with CacheClient(server.endpoint) as c:
        yield c


@pytest.fixture(autouse=True)
def _fresh_default_clients() -> Iterator[None]:
    yield
    reset_default_clients()
