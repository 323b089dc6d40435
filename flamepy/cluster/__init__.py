"""A whole Flame cluster on this machine, for examples, benchmarks, tests and ``flmctl cluster``.

    from flamepy.cluster import LocalCluster

    with LocalCluster(tmp_path, port=0) as cluster:
        conn = flamepy.Connection(cluster.endpoint)

Modules: :mod:`flamepy.cluster.local` (:class:`LocalCluster`), :mod:`flamepy.cluster.state` (the
``cluster.json`` record another process uses to find and stop a cluster) and
:mod:`flamepy.cluster.processes` (spawning and stopping the daemons).
"""

from __future__ import annotations

from flamepy.cluster.local import ClusterStartError, LocalCluster
from flamepy.cluster.probe import port_is_free, wait_until
from flamepy.cluster.processes import ProcessRecord
from flamepy.cluster.state import ClusterState, read_state, stop_recorded

__all__ = [
    "ClusterStartError",
    "ClusterState",
    "LocalCluster",
    "ProcessRecord",
    "port_is_free",
    "read_state",
    "stop_recorded",
    "wait_until",
]
