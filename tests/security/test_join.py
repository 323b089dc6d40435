"""``flmctl cluster token`` prints the node token and the join command; ``flmctl node join`` with it
runs an executor manager that joins the cluster (a second node), and without a valid token exits
non-zero saying why."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import flamepy
from flamepy.cluster import LocalCluster
from flamepy.types import NodeState
from tests.security.conftest import WRONG_TOKEN
from tests.support import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

FLMCTL = [sys.executable, "-m", "flamepy.cli.main"]


def flmctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FLMCTL, *args], capture_output=True, text=True, timeout=90, env=env)


def ready_nodes(endpoint: str) -> list[str]:
    with flamepy.Connection(endpoint) as conn:
        return [n.name for n in conn.list_nodes() if n.state == NodeState.READY]


def test_cluster_token_prints_the_node_token_and_the_join_command(cluster: LocalCluster) -> None:
    done = flmctl("cluster", "token", "--data-dir", str(cluster.data_dir), "-o", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["token"] == cluster.node_token
    assert doc["endpoint"] == cluster.endpoint
    assert doc["command"].startswith(f"flmctl node join --endpoint {cluster.endpoint} --token-file ")
    plain = flmctl("cluster", "token", "--data-dir", str(cluster.data_dir))
    assert plain.stdout.strip() == cluster.node_token and "flmctl node join" in plain.stderr


def test_node_join_with_the_token_adds_a_ready_node(cluster: LocalCluster, tmp_path: Path) -> None:
    command = json.loads(flmctl("cluster", "token", "--data-dir", str(cluster.data_dir), "-o", "json").stdout)
    args = [*command["command"].split()[1:], "--name", "joined", "--work-dir", str(tmp_path / "node")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAME_")}
    proc = subprocess.Popen([*FLMCTL, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "joined" in ready_nodes(cluster.endpoint), timeout=60, interval=0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 0, out


@pytest.mark.parametrize("token", [None, WRONG_TOKEN], ids=["no-token", "wrong-token"])
def test_node_join_without_a_valid_token_exits_saying_why(
    cluster: LocalCluster, tmp_path: Path, token: str | None
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAME_")}
    extra = ["--token", token] if token else []
    args = ["node", "join", "--endpoint", cluster.endpoint, "--name", "stranger", "--work-dir", str(tmp_path)]
    done = flmctl(*args, *extra, env=env)
    assert done.returncode != 0
    assert "refused this node" in done.stderr
    assert token is None or token not in done.stderr
    assert "stranger" not in ready_nodes(cluster.endpoint)
