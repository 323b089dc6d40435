"""A local cluster serving TLS (``LocalCluster(tls=True)``): the SDK with the cluster's CA runs
tasks, a service reaches the object cache over TLS, and plaintext or untrusting clients fail fast."""

from __future__ import annotations

import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

import flamepy
from flamepy.cache import CacheClient
from flamepy.cluster import LocalCluster, read_state
from flamepy.common.cache_types import ObjectRef
from flamepy.errors import UnavailableError
from flamepy.proto import frontend_pb2, frontend_pb2_grpc
from tests.e2e.conftest import ROOT

CACHE_SERVICE = ROOT / "tests" / "cache" / "cache_service.py"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    data = tmp_path_factory.mktemp("tls")
    with LocalCluster(data, port=0, tls=True, executors_env={"FLAME_NODE_CPUS": "1"}) as c:
        yield c


def test_endpoints_are_tls_and_the_files_owner_only(cluster: LocalCluster) -> None:
    assert cluster.endpoint.startswith("https://127.0.0.1:")
    assert cluster.cache_endpoint.startswith("grpcs://127.0.0.1:")
    assert cluster.ca_file is not None
    ca = Path(cluster.ca_file)
    assert stat.S_IMODE(ca.parent.stat().st_mode) == 0o700
    for name in ("ca.pem", "server.pem", "server.key"):
        assert stat.S_IMODE((ca.parent / name).stat().st_mode) == 0o600, name
    state = read_state(cluster.data_dir)
    assert state is not None and state.ca_file == cluster.ca_file and state.endpoint == cluster.endpoint


def test_sdk_with_the_ca_runs_a_task_and_a_service_uses_the_cache(cluster: LocalCluster) -> None:
    with (
        flamepy.Connection(cluster.endpoint, cluster.ca_file) as conn,
        CacheClient(cluster.cache_endpoint, tls_config=cluster.ca_file) as cache,
    ):
        conn.register_application(
            "tls-cache-app",
            flamepy.ApplicationAttributes(command=sys.executable, arguments=[str(CACHE_SERVICE)]),
        )
        ref = cache.put_object("tls-cache-app/ssn-1", list(range(100)))
        ssn = conn.create_session(flamepy.SessionAttributes(application="tls-cache-app"))
        try:
            out_key = ssn.invoke(ref.key.encode())  # the service reads and writes over grpcs://
        finally:
            ssn.close()
        assert out_key is not None
        result = cache.get_object(ObjectRef(cluster.cache_endpoint, out_key.decode(), 0))
        assert result == {"sum": sum(range(100)), "endpoint": cluster.cache_endpoint}
        assert cache.delete_objects("tls-cache-app/*") == 2


def test_ca_file_from_the_environment(cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cluster.ca_file is not None
    monkeypatch.setenv("FLAME_CA_FILE", cluster.ca_file)
    with flamepy.Connection(cluster.endpoint) as conn:
        assert [n.name for n in conn.list_nodes()] == [cluster.node_name]


def test_a_plaintext_client_fails_cleanly(cluster: LocalCluster) -> None:
    plain = cluster.endpoint.replace("https://", "http://")
    started = time.monotonic()
    with pytest.raises(UnavailableError), flamepy.Connection(plain, retry_deadline=0) as conn:
        conn.list_nodes()
    assert time.monotonic() - started < 30
    with grpc.insecure_channel(plain.removeprefix("http://")) as channel:
        stub = frontend_pb2_grpc.FrontendStub(channel)
        with pytest.raises(grpc.RpcError) as failed:
            stub.ListApplication(frontend_pb2.ListApplicationRequest(), timeout=5)
        assert failed.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_client_that_does_not_trust_the_ca_fails_cleanly(
    cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLAME_CA_FILE", raising=False)
    with pytest.raises(UnavailableError), flamepy.Connection(cluster.endpoint, retry_deadline=0) as conn:
        conn.list_nodes()  # the system's roots do not know the cluster's CA
