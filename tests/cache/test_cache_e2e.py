"""A service under a real local cluster uses the cluster's object cache through FLAME_CACHE_ENDPOINT."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import flamepy
from flamepy.cache import CacheClient, ObjectRef
from flamepy.cluster import LocalCluster, read_state

pytestmark = pytest.mark.e2e
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with LocalCluster(
        tmp_path_factory.mktemp("cache-cluster"), port=0, executors_env={"FLAME_NODE_CPUS": "1"}
    ) as c:
        yield c


def test_service_reads_and_writes_objects_through_flame_cache_endpoint(cluster: LocalCluster) -> None:
    state = read_state(cluster.data_dir)
    assert state is not None and state.cache_endpoint == cluster.cache_endpoint
    assert state.object_cache is not None and state.object_cache.is_alive()
    with CacheClient(cluster.cache_endpoint) as cache, flamepy.Connection(cluster.endpoint) as conn:
        conn.register_application(
            "cache-app",
            flamepy.ApplicationAttributes(command=sys.executable, arguments=[str(HERE / "cache_service.py")]),
        )
        ref = cache.put_object("cache-app/ssn-1", list(range(1000)))
        ssn = conn.create_session(flamepy.SessionAttributes(application="cache-app"))
        try:
            out_key = ssn.invoke(ref.key.encode())
        finally:
            ssn.close()
        assert out_key is not None
        result = cache.get_object(ObjectRef(cluster.cache_endpoint, out_key.decode(), 0))
        assert result == {"sum": sum(range(1000)), "endpoint": cluster.cache_endpoint}
        assert cache.delete_objects("cache-app/*") == 2
    # objects live under <data_dir>/cache (disk storage of the local cluster)
    assert (cluster.data_dir / "cache" / "objects").is_dir()
