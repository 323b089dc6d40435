"""A real local cluster with the default (token) auth, and raw ways to call it the way a stranger
would: the generated stubs on a plain channel, with no token or with a made-up one."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from flamepy.cluster import LocalCluster
from flamepy.common.credentials import metadata

WRONG_TOKEN = "not-the-token-0123456789abcdef"


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    # a data dir under a directory anyone may traverse (not pytest's owner-only one), so that the
    # file modes are what keeps other users out
    parent = Path(tempfile.mkdtemp(prefix="flame-sec-"))
    parent.chmod(0o755)
    try:
        with LocalCluster(parent / "cluster", port=0, executors_env={"FLAME_NODE_CPUS": "2"}) as c:
            yield c
    finally:
        shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def raw(cluster: LocalCluster) -> Iterator[grpc.Channel]:
    """A plain channel to the session manager: no credentials."""
    with grpc.insecure_channel(f"127.0.0.1:{cluster.port}") as ch:
        yield ch


@pytest.fixture
def raw_cache(cluster: LocalCluster) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{cluster.cache_port}") as ch:
        yield ch


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return metadata(token)


def no_secrets_in(text: str, *secrets: str) -> bool:
    return not any(s and s in text for s in secrets)


def mode(path: Path | str) -> int:
    return os.stat(path).st_mode & 0o777
