"""TLS on the servers, in-process: the certificate files, the command-line options, a TLS session
manager (https:// endpoint), and mutual TLS (``--tls-client-ca``)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

import flamepy
from flamepy.common import tls_certs
from flamepy.errors import InvalidConfigError, UnavailableError
from flamepy.tls import ServerTlsConfig, TlsConfig, server_tls
from object_cache.__main__ import parse_args as cache_args
from session_manager.__main__ import parse_args as sm_args
from session_manager.config import ServerConfig
from tests.session_manager.conftest import ServerThread


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki") / "tls"
    tls_certs.write_server_tls(d, client=True)
    return d


def test_files_are_owner_only_and_kept(pki: Path) -> None:
    assert stat.S_IMODE(pki.stat().st_mode) == 0o700
    names = ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")
    assert all(stat.S_IMODE((pki / n).stat().st_mode) == 0o600 for n in names)
    before = (pki / "server.pem").read_bytes()
    tls_certs.ensure_server_tls(pki)  # all there: nothing is made again
    assert (pki / "server.pem").read_bytes() == before


def test_tls_options_come_in_pairs(pki: Path) -> None:
    assert server_tls(None, None) is None
    with pytest.raises(InvalidConfigError, match="both --tls-cert and --tls-key"):
        server_tls(str(pki / "server.pem"), None)
    with pytest.raises(InvalidConfigError, match="--tls-client-ca needs"):
        server_tls(None, None, str(pki / "ca.pem"))
    with pytest.raises(InvalidConfigError, match="cannot read TLS key file"):
        server_tls(str(pki / "server.pem"), str(pki / "missing.key"))
    with pytest.raises(SystemExit):
        sm_args(["--tls-cert", str(pki / "server.pem")])
    cfg, _ = sm_args(["--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server.key")])
    assert cfg.tls == ServerTlsConfig(str(pki / "server.pem"), str(pki / "server.key"))
    ccfg, _ = cache_args(["--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server.key")])
    assert ccfg.tls == cfg.tls


def _server(tmp_path: Path, tls: ServerTlsConfig) -> ServerThread:
    return ServerThread(ServerConfig(port=0, storage="memory", data_dir=str(tmp_path), tls=tls)).start()


def test_a_tls_session_manager_serves_https(pki: Path, tmp_path: Path) -> None:
    srv = _server(tmp_path, ServerTlsConfig(str(pki / "server.pem"), str(pki / "server.key")))
    try:
        endpoint = srv.sm.frontend_endpoint
        assert endpoint == f"https://127.0.0.1:{srv.port}"
        with flamepy.Connection(endpoint, str(pki / "ca.pem")) as conn:
            assert any(a.name == "flmping" for a in conn.list_applications())
    finally:
        srv.stop()


def test_mutual_tls_requires_a_client_certificate(pki: Path, tmp_path: Path) -> None:
    tls = ServerTlsConfig(str(pki / "server.pem"), str(pki / "server.key"), str(pki / "ca.pem"))
    srv = _server(tmp_path, tls)
    try:
        endpoint = srv.sm.frontend_endpoint
        identity = TlsConfig(str(pki / "ca.pem"), str(pki / "client.pem"), str(pki / "client.key"))
        with flamepy.Connection(endpoint, identity) as conn:
            assert conn.list_nodes() == []
        with (
            pytest.raises(UnavailableError),
            flamepy.Connection(endpoint, str(pki / "ca.pem"), retry_deadline=0) as anonymous,
        ):
            anonymous.list_nodes()
    finally:
        srv.stop()
