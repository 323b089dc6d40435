"""One real local cluster (object cache + session manager + executor manager) for the Runner's
end-to-end tests; the unit tests of this folder do not use it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flamepy.cache import reset_default_clients
from flamepy.client import reset_default_connection
from flamepy.cluster import LocalCluster
from flamepy.runner import shutdown

# 4 executors also on a smaller machine: advertising more CPUs than it has needs overcommitting
NODE_ENV = {"FLAME_NODE_CPUS": "4", "FLAME_OVERCOMMIT": "1"}


@pytest.fixture(scope="session")
def runner_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """The cluster, with this process's FLAME_* variables pointing at it (what Runner reads)."""
    with pytest.MonkeyPatch.context() as mp, LocalCluster(
        tmp_path_factory.mktemp("runner-cluster"), port=0, executors_env=NODE_ENV
    ) as cluster:
        mp.setenv("FLAME_CONFIG", str(cluster.data_dir / "no-such-flame.yaml"))
        mp.setenv("FLAME_ENDPOINT", cluster.endpoint)
        mp.setenv("FLAME_CACHE_ENDPOINT", cluster.cache_endpoint)
        try:
            yield cluster
        finally:
            shutdown()
            reset_default_connection()
            reset_default_clients()
