"""flmctl and LocalCluster against a real session manager + executor manager (subprocesses).

Every cluster here uses a tmp data dir and a free port (``--port 0``); nothing waits by sleeping:
``flmctl cluster up`` and ``LocalCluster.start`` return once the node is Ready.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

import flamepy
from flamepy.cluster import ClusterStartError, LocalCluster, read_state
from flamepy.types import NodeState

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
FLMCTL = [sys.executable, "-m", "flamepy.cli.main"]


def flmctl(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FLMCTL, *args], capture_output=True, text=True, timeout=timeout, check=False)


def processes_mentioning(text: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if text in cmdline and proc.pid != os.getpid():
            found.append(proc)
    return found


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def test_cluster_up_list_down(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "cluster")
    up = flmctl("cluster", "up", "--data-dir", data_dir, "--port", "0", "--node", "e2e-node",
                "-o", "json")  # fmt: skip
    try:
        assert up.returncode == 0, up.stderr
        state = json.loads(up.stdout)
        endpoint = state["endpoint"]
        assert state["already_running"] is False and endpoint != "http://127.0.0.1:8080"

        nodes = json.loads(flmctl("--endpoint", endpoint, "list", "nodes", "-o", "json").stdout)
        assert [(n["name"], n["state"]) for n in nodes] == [("e2e-node", "Ready")]

        apps = json.loads(flmctl("--endpoint", endpoint, "list", "applications", "-o", "json").stdout)
        assert sorted(a["name"] for a in apps) == ["flmexec", "flmping", "flmrun"]

        missing = flmctl("--endpoint", endpoint, "view", "session", "no-such-session")
        assert missing.returncode == 1
        assert missing.stderr.startswith("error: ") and "not found" in missing.stderr
        assert "Traceback" not in missing.stderr

        again = flmctl("cluster", "up", "--data-dir", data_dir, "--port", "0", "-o", "json")
        assert json.loads(again.stdout)["already_running"] is True

        status = flmctl("cluster", "status", "--data-dir", data_dir, "-o", "json")
        assert status.returncode == 0
        assert json.loads(status.stdout)["nodes"] == [{"name": "e2e-node", "state": "Ready"}]
    finally:
        down = flmctl("cluster", "down", "--data-dir", data_dir)
    assert down.returncode == 0, down.stderr
    assert "stopped" in down.stdout
    assert processes_mentioning(data_dir) == []
    assert read_state(data_dir) is None
    assert flmctl("cluster", "status", "--data-dir", data_dir).returncode == 1


def test_unreachable_endpoint_is_a_clean_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    res = flmctl("--endpoint", f"http://127.0.0.1:{port}", "list", "nodes")
    assert res.returncode == 1
    assert res.stderr.startswith("error: ") and "Traceback" not in res.stderr


def test_start_failure_shows_the_log(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ClusterStartError, match="already in use"):
            LocalCluster(tmp_path, port=port).start()


def test_start_failure_of_executor_manager_shows_its_log(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path, port=0, executors_env={"FLAME_NODE_MEMORY": "lots"},
                           start_timeout=30)  # fmt: skip
    with pytest.raises(ClusterStartError) as exc:
        cluster.start()
    assert "executor-manager.log" in exc.value.message
    assert processes_mentioning(str(tmp_path)) == []


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCluster]:
    with LocalCluster(tmp_path / "local", port=0, node_name="local-node") as c:
        monkeypatch.setenv("FLAME_ENDPOINT", c.endpoint)
        flamepy.reset_default_connection()
        try:
            yield c
        finally:
            flamepy.reset_default_connection()


def test_examples_restart_and_clean_stop(cluster: LocalCluster) -> None:
    from examples.echo import client as echo
    from examples.pi import client as pi

    report = echo.run(tasks=20)
    assert report.ok, report
    assert report.first_output == b"hello flame"
    pi_report = pi.run(tasks=8, samples_per_task=5_000)
    assert pi_report.samples == 40_000 and pi_report.error < 0.1

    # crash the session manager; a restart on the same port and data dir recovers everything
    old_pid = cluster.session_manager_pid
    assert cluster.kill_session_manager() != 0
    flamepy.reset_default_connection()
    cluster.restart_session_manager()
    assert cluster.session_manager_pid != old_pid
    with flamepy.Connection(cluster.endpoint) as conn:
        assert conn.get_application(echo.APP) is not None
        assert report.session_id in {s.id for s in conn.list_sessions()}
        [node] = conn.list_nodes()
        assert (node.name, node.state) == ("local-node", NodeState.READY)

    # leave a session open with a live service process, then stop: nothing may survive
    ssn = flamepy.create_session(echo.APP, common_data=b"x")
    assert ssn.invoke(b"ping") == b"ping"
    services = descendants(cluster.executor_manager_pid)
    assert services, "the open session should have a service process"
    cluster.stop()
    assert alive(services) == []
    assert processes_mentioning(str(cluster.data_dir)) == []


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "FLAME_DEMO_PORT": str(port), "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    env.pop("FLAME_ENDPOINT", None)
    res = subprocess.run([sys.executable, "-m", "examples.demo"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=110, check=False)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert "100/100 futures ok" in res.stdout and "π ≈ 3.1" in res.stdout
    assert processes_mentioning(str(tmp_path / ".flame-local")) == []
