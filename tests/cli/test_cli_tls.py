"""``flmctl cluster up --tls``: a local cluster serving TLS, used through FLAME_CA_FILE."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

FLMCTL = [sys.executable, "-m", "flamepy.cli.main"]


def flmctl(*args: str, ca_file: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FLAME_CA_FILE"}
    if ca_file is not None:
        env["FLAME_CA_FILE"] = ca_file
    return subprocess.run([*FLMCTL, *args], capture_output=True, text=True, timeout=90, env=env, check=False)


def test_cluster_up_tls(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "cluster")
    up = flmctl("cluster", "up", "--tls", "--data-dir", data_dir, "--port", "0", "--node", "tls-node",
                "-o", "json")  # fmt: skip
    try:
        assert up.returncode == 0, up.stderr
        state = json.loads(up.stdout)
        endpoint, ca_file = state["endpoint"], state["ca_file"]
        assert endpoint.startswith("https://") and state["cache_endpoint"].startswith("grpcs://")
        assert ca_file == str(Path(data_dir) / "tls" / "ca.pem")

        nodes = flmctl("--endpoint", endpoint, "list", "nodes", "-o", "json", ca_file=ca_file)
        assert nodes.returncode == 0, nodes.stderr
        assert [(n["name"], n["state"]) for n in json.loads(nodes.stdout)] == [("tls-node", "Ready")]

        untrusted = flmctl("--endpoint", endpoint, "list", "nodes")
        assert untrusted.returncode == 1
        assert any(line.startswith("error: ") for line in untrusted.stderr.splitlines()), untrusted.stderr
        assert "Traceback" not in untrusted.stderr

        status = flmctl("cluster", "status", "--data-dir", data_dir, "-o", "json")  # no FLAME_CA_FILE
        assert json.loads(status.stdout)["nodes"] == [{"name": "tls-node", "state": "Ready"}]

        table = flmctl("cluster", "up", "--tls", "--data-dir", data_dir, "--port", "0")
        assert f"export FLAME_CA_FILE={ca_file}" in table.stdout
    finally:
        down = flmctl("cluster", "down", "--data-dir", data_dir)
    assert down.returncode == 0, down.stderr
