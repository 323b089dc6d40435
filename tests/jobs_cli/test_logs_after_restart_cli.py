"""``flmctl logs`` of a finished job after the whole cluster (session manager, executor manager and
object cache) was stopped and started again: the log is kept on the node and read through the
broker, so it is complete after the restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flamepy.cluster import LocalCluster
from tests.jobs_cli.conftest import Flmctl
from tests.support import wait_until


@pytest.fixture
def own_cluster(tmp_path: Path):
    cluster = LocalCluster(tmp_path / "cluster", port=0, node_name="restart-node")
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def _state(flmctl: Flmctl, job: str) -> str:
    out = flmctl("status", job, "-o", "json")
    assert out.returncode == 0, out.stderr
    return str(json.loads(out.stdout)["state"])


def test_logs_of_a_finished_job_survive_a_cluster_restart(own_cluster: LocalCluster, tmp_path: Path) -> None:
    flmctl = Flmctl(own_cluster.endpoint, own_cluster.cache_endpoint)
    started = flmctl("run", "-d", "--no-upload", "--name", "kept", "--", "sh", "-c", "echo first; echo second >&2")
    assert started.returncode == 0, started.stderr
    job = started.stdout.strip()
    wait_until(lambda: _state(flmctl, job) == "Succeeded", 60)

    own_cluster.stop()
    own_cluster.start()
    flmctl = Flmctl(own_cluster.endpoint, own_cluster.cache_endpoint)  # the cache may have a new port

    logs = flmctl("logs", job)
    assert logs.returncode == 0, logs.stderr
    assert "first" in logs.stdout and "second" in logs.stdout + logs.stderr
    assert _state(flmctl, job) == "Succeeded"
