"""An executor manager process attaching to a session manager that requires client certificates
(``--tls-client-ca``): with ``--client-cert``/``--client-key`` it registers; without, it is refused
at the TLS handshake (and keeps retrying)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import flamepy
from flamepy.common import tls_certs
from flamepy.tls import ServerTlsConfig, TlsConfig
from flamepy.types import NodeState
from session_manager.config import ServerConfig
from tests.session_manager.conftest import ServerThread
from tests.support import token_of, wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def mtls_server(tmp_path: Path) -> Iterator[tuple[ServerThread, Path]]:
    pki = tmp_path / "tls"
    tls_certs.write_server_tls(pki, client=True)
    tls = ServerTlsConfig(str(pki / "server.pem"), str(pki / "server.key"), str(pki / "ca.pem"))
    config = ServerConfig(port=0, storage="memory", data_dir=str(tmp_path / "sm"), local_socket="", tls=tls)
    srv = ServerThread(config).start()
    yield srv, pki
    srv.stop()


def _executor(srv: ServerThread, pki: Path, work: Path, *identity: str) -> subprocess.Popen[str]:
    args = [
        sys.executable, "-m", "executor",
        "--endpoint", srv.sm.frontend_endpoint,
        "--name", "mtls-node",
        "--work-dir", str(work),
        "--ca-file", str(pki / "ca.pem"),
        *identity,
    ]  # fmt: skip
    token = token_of(srv.target, "node") or ""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FLAME_NODE_CPUS": "1", "FLAME_NODE_TOKEN": token}
    log = open(work.parent / f"{work.name}.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(30)


def test_a_node_with_a_client_certificate_registers(mtls_server, tmp_path: Path) -> None:
    srv, pki = mtls_server
    identity = ("--client-cert", str(pki / "client.pem"), "--client-key", str(pki / "client.key"))
    proc = _executor(srv, pki, tmp_path / "with-cert", *identity)
    try:
        client = TlsConfig(str(pki / "ca.pem"), str(pki / "client.pem"), str(pki / "client.key"))
        with flamepy.Connection(srv.sm.frontend_endpoint, client) as conn:
            ready = ("mtls-node", NodeState.READY)
            wait_until(lambda: ready in [(n.name, n.state) for n in conn.list_nodes()], timeout=30)
    finally:
        _stop(proc)


def test_a_node_without_one_is_refused(mtls_server, tmp_path: Path) -> None:
    srv, pki = mtls_server
    proc = _executor(srv, pki, tmp_path / "no-cert")
    try:
        log = tmp_path / "no-cert.log"
        wait_until(lambda: "broke: UNAVAILABLE" in log.read_text(), timeout=30)
        assert srv.sm.broker.list_nodes() == []
    finally:
        _stop(proc)
