"""``flmctl cluster up --host ADDR``: the decision where to listen (no network), the refusal of a
non-loopback address without TLS, the certificate's names, and a cluster on 127.0.0.2 that the
SDK reaches there and runs a task on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import flamepy
from flamepy.cluster import LocalCluster
from flamepy.cluster.listen import ListenPlan, plan_listen
from flamepy.common import credentials
from flamepy.common.tls_certs import certificate_names, ensure_server_tls
from flamepy.config import parse_endpoint
from flamepy.errors import InvalidArgumentError

FLMCTL = [sys.executable, "-m", "flamepy.cli.main"]


def flmctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FLMCTL, *args], capture_output=True, text=True, timeout=120, check=False)


def test_loopback_needs_nothing_and_advertises_itself() -> None:
    assert plan_listen() == ListenPlan("127.0.0.1", "127.0.0.1", "127.0.0.1")
    plan = plan_listen("127.0.0.2")
    assert plan == ListenPlan("127.0.0.2", "127.0.0.2", "127.0.0.2") and not plan.advertises
    assert plan_listen("::1").url("https", 8080) == "https://[::1]:8080"
    assert plan_listen("::1").server_host == "[::1]"
    assert parse_endpoint("https://[::1]:8080").target == "[::1]:8080"  # what gRPC dials


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::", "node1.example"])
def test_non_loopback_without_tls_is_refused(host: str) -> None:
    with pytest.raises(InvalidArgumentError, match=r"without TLS.*--tls.*--allow-plaintext"):
        plan_listen(host)


def test_non_loopback_with_tls_or_explicit_plaintext_is_allowed() -> None:
    plan = plan_listen("0.0.0.0", advertise_host="flame.example", tls=True)
    assert plan == ListenPlan("0.0.0.0", "127.0.0.1", "flame.example") and plan.advertises
    assert plan.url("https", 8080, advertised=True) == "https://flame.example:8080"
    assert plan_listen("10.1.2.3", allow_plaintext=True) == ListenPlan("10.1.2.3", "10.1.2.3", "10.1.2.3")
    assert plan_listen("0.0.0.0", tls=True).advertise_host  # this host's address or name


def test_server_certificate_names_the_advertised_host(tmp_path: Path) -> None:
    files = ensure_server_tls(tmp_path / "tls")
    assert "flame.example" not in certificate_names(files.cert_file)
    again = ensure_server_tls(tmp_path / "tls", ("flame.example", "10.1.2.3"))  # re-made: names added
    names = certificate_names(again.cert_file)
    assert {"flame.example", "10.1.2.3", "127.0.0.1", "localhost"} <= set(names)


def test_cli_refuses_a_non_loopback_host_without_tls_binding_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "cluster"
    done = flmctl("cluster", "up", "--host", "0.0.0.0", "--port", "0", "--data-dir", str(data_dir))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: refusing to listen on 0.0.0.0 without TLS")
    assert not data_dir.exists()  # nothing made, nothing started


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_cluster_on_127_0_0_2_runs_a_task_there(tmp_path: Path) -> None:
    env = {"FLAME_NODE_CPUS": "2"}
    with LocalCluster(tmp_path / "c", port=0, host="127.0.0.2", executors_env=env) as cluster:
        assert cluster.endpoint.startswith("http://127.0.0.2:")
        assert cluster.cache_endpoint.startswith("grpc://127.0.0.2:")
        with flamepy.Connection(cluster.endpoint) as conn:  # the token is found in the registry
            ssn = conn.create_session(flamepy.SessionAttributes(application="flmexec"))
            try:
                out = ssn.invoke(b'printf "%s %s" "$FLAME_ENDPOINT" "$FLAME_CACHE_ENDPOINT"')
            finally:
                ssn.close()
        assert out.decode() == f"{cluster.endpoint} {cluster.cache_endpoint}"
        token = flmctl("cluster", "token", "--data-dir", str(cluster.data_dir), "-o", "json")
        doc = json.loads(token.stdout)
        assert doc["endpoint"] == cluster.endpoint and doc["command"].split()[4] == cluster.endpoint


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_cluster_up_with_an_advertised_host_prints_it_in_the_join_command(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "c")
    up = flmctl("cluster", "up", "--host", "127.0.0.2", "--advertise-host", "flame-head.example", "--tls",
                "--port", "0", "--data-dir", data_dir, "-o", "json")  # fmt: skip
    try:
        assert up.returncode == 0, up.stderr
        state = json.loads(up.stdout)
        assert state["endpoint"].startswith("https://127.0.0.2:")
        port = state["endpoint"].rsplit(":", 1)[1]
        assert state["advertised_endpoint"] == f"https://flame-head.example:{port}"
        names = certificate_names(Path(data_dir) / "tls" / "server.pem")
        assert {"flame-head.example", "127.0.0.2"} <= set(names)
        token = flmctl("cluster", "token", "--data-dir", data_dir)
        assert f"flmctl node join --endpoint https://flame-head.example:{port} " in token.stderr
        assert f"copy the CA certificate {state['ca_file']}" in token.stderr
        assert "export FLAME_CA_FILE=" in token.stderr
        nodes = subprocess.run([*FLMCTL, "--endpoint", state["endpoint"], "list", "nodes", "-o", "json"],
                               capture_output=True, text=True, timeout=60, check=False,
                               env={**os.environ, "FLAME_CA_FILE": state["ca_file"]})  # fmt: skip
        assert [n["state"] for n in json.loads(nodes.stdout)] == ["Ready"], nodes.stderr
        assert credentials.recall(f"flame-head.example:{port}") is not None  # registry: advertised too
    finally:
        flmctl("cluster", "down", "--data-dir", data_dir)
    assert credentials.recall(f"flame-head.example:{port}") is None  # and forgotten by `down`


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_cluster_on_ipv6_loopback(tmp_path: Path) -> None:
    with LocalCluster(tmp_path / "c", port=0, host="::1", executors_env={"FLAME_NODE_CPUS": "1"}) as cluster:
        assert cluster.endpoint.startswith("http://[::1]:")  # started: the node is Ready through it
