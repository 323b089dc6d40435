"""Multi-rank jobs across two nodes: ``flmctl run --instances 2 --spread`` puts the ranks on
distinct nodes and both see rank 0's node address as MASTER_ADDR; ``--spread`` with more ranks
than nodes fails with the reason within the unschedulable timeout.

Two real executor managers next to a LocalCluster: the cluster's own (``node-a``, advertising
127.0.0.2) and a second one (``flmctl node join --name node-b --advertise-address 127.0.0.3``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import flamepy
from flamepy.cluster import LocalCluster
from flamepy.types import NodeState
from tests.jobs_cli.conftest import Flmctl
from tests.support import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

UNSCHEDULABLE_S = 3.0
SHOW = "echo rank=$FLAME_NODE_RANK master=$MASTER_ADDR node=${FLAME_EXECUTOR_ID%-*}"
# as ranks of a real multi-rank job do, rank 0 waits for rank 1 to start (bounded by --timeout)
BARRIER = '; if [ "$FLAME_NODE_RANK" = 0 ]; then until [ -e {d}/rank1 ]; do sleep 0.05; done; else touch {d}/rank1; fi'


def ready_nodes(endpoint: str) -> list[str]:
    with flamepy.Connection(endpoint) as conn:
        return sorted(n.name for n in conn.list_nodes() if n.state == NodeState.READY)


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    root = tmp_path_factory.mktemp("spread")
    with LocalCluster(
        root / "cluster",
        port=0,
        node_name="node-a",
        executors_env={"FLAME_NODE_ADDRESS": "127.0.0.2"},
        session_manager_args=["--unschedulable-timeout", str(UNSCHEDULABLE_S)],
    ) as cluster:
        assert cluster.auth_dir is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLAME_")}
        argv = [sys.executable, "-m", "flamepy.cli.main", "node", "join", "--endpoint", cluster.endpoint]
        argv += ["--name", "node-b", "--token-file", str(cluster.auth_dir / "node.token")]
        argv += ["--work-dir", str(root / "node-b"), "--advertise-address", "127.0.0.3"]
        node_b = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(
                lambda: ready_nodes(cluster.endpoint) == ["node-a", "node-b"], timeout=60, interval=0.1
            )
            yield cluster
        finally:
            node_b.send_signal(signal.SIGINT)
            node_b.wait(timeout=60)


@pytest.fixture(scope="module")
def run2(two_nodes: LocalCluster) -> Flmctl:
    return Flmctl(two_nodes.endpoint, two_nodes.cache_endpoint)


def ranks(stdout: str) -> dict[str, dict[str, str]]:
    """``{rank: {"master": ..., "node": ...}}`` from ``[i] rank=R master=M node=N`` lines."""
    out = {}
    for line in stdout.splitlines():
        fields = dict(part.split("=", 1) for part in line.split()[1:])
        out[fields.pop("rank")] = fields
    return out


def test_spread_ranks_run_on_distinct_nodes_and_meet_at_rank0s_address(run2: Flmctl, tmp_path: Path) -> None:
    command = SHOW + BARRIER.format(d=tmp_path)
    done = run2(
        "run", "--instances", "2", "--spread", "--no-upload", "--timeout", "60", command, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    seen = ranks(done.stdout)
    assert sorted(seen) == ["0", "1"]
    assert {seen["0"]["node"], seen["1"]["node"]} == {"node-a", "node-b"}
    rank0_address = {"node-a": "127.0.0.2", "node-b": "127.0.0.3"}[seen["0"]["node"]]
    assert seen["0"]["master"] == seen["1"]["master"] == rank0_address


def test_without_spread_two_ranks_still_run_and_agree(run2: Flmctl, tmp_path: Path) -> None:
    done = run2("run", "--instances", "2", "--no-upload", SHOW, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    seen = ranks(done.stdout)
    addresses = {"node-a": "127.0.0.2", "node-b": "127.0.0.3"}
    assert seen["0"]["master"] == seen["1"]["master"] == addresses[seen["0"]["node"]]


def test_spread_with_more_ranks_than_nodes_fails_naming_why(run2: Flmctl, tmp_path: Path) -> None:
    started = time.monotonic()
    done = run2("run", "--instances", "3", "--spread", "--no-upload", "sleep 8", cwd=tmp_path, timeout=120)
    assert done.returncode != 0
    text = done.stdout + done.stderr
    assert "needs 3 distinct nodes (spread), the cluster has 2" in text, text
    assert time.monotonic() - started < 60
