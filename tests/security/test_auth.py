"""Nobody without the cluster's token gets in: rogue clients, rogue nodes and cache readers written
with the raw generated stubs are refused (UNAUTHENTICATED), the SDK raises AuthenticationError at
once (no retrying), and ``--auth none`` is the explicit way back to an open cluster."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

import flamepy
from flamepy.cache import CacheClient
from flamepy.cluster import LocalCluster
from flamepy.common import credentials
from flamepy.errors import AuthenticationError
from flamepy.proto import backend_pb2 as be
from flamepy.proto import (
    backend_pb2_grpc,
    cache_pb2,
    cache_pb2_grpc,
    extensions_pb2,
    extensions_pb2_grpc,
    frontend_pb2_grpc,
)
from flamepy.proto import frontend_pb2 as fe
from flamepy.proto import types_pb2 as pb
from tests.security.conftest import WRONG_TOKEN, bearer, mode, no_secrets_in

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def refused(call: Callable[[], object]) -> str:
    """The details of the UNAUTHENTICATED that ``call`` must raise."""
    with pytest.raises(grpc.RpcError) as info:
        call()
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED, info.value
    return info.value.details() or ""


def frontend_calls(ch: grpc.Channel, md: tuple) -> dict[str, Callable[[], object]]:
    fs, ext = frontend_pb2_grpc.FrontendStub(ch), extensions_pb2_grpc.FrontendExtStub(ch)
    spec = pb.SessionSpec(application="flmping")
    return {
        "CreateSession": lambda: fs.CreateSession(
            fe.CreateSessionRequest(session_id="rogue", session=spec), metadata=md, timeout=10
        ),
        "RunTask": lambda: ext.RunTask(
            extensions_pb2.RunTaskRequest(session_id="rogue", input=b"id"), metadata=md, timeout=10
        ),
        "GetLocalEndpoint": lambda: ext.GetLocalEndpoint(
            extensions_pb2.LocalEndpointRequest(), metadata=md, timeout=10
        ),
        "ListExecutor": lambda: fs.ListExecutor(fe.ListExecutorRequest(), metadata=md, timeout=10),
        "WatchTask": lambda: list(
            fs.WatchTask(fe.WatchTaskRequest(session_id="s", task_id="1"), metadata=md, timeout=10)
        ),
    }


@pytest.mark.parametrize("token", [None, WRONG_TOKEN], ids=["no-token", "wrong-token"])
def test_a_rogue_client_is_refused(cluster: LocalCluster, raw: grpc.Channel, token: str | None) -> None:
    md = bearer(token) if token else ()
    for name, call in frontend_calls(raw, md).items():
        details = refused(call)
        assert "token" in details, name
        assert no_secrets_in(details, WRONG_TOKEN, cluster.client_token or "", cluster.node_token or "")
    if token is None:
        assert "FLAME_TOKEN" in details and "--auth none" in details
    with flamepy.Connection(cluster.endpoint) as conn:
        assert not [s for s in conn.list_sessions() if s.id == "rogue"]  # nothing was created


def test_the_client_token_works_and_the_node_token_too(cluster: LocalCluster, raw: grpc.Channel) -> None:
    fs = frontend_pb2_grpc.FrontendStub(raw)
    for token in (cluster.client_token, cluster.node_token):
        assert token is not None
        assert fs.ListApplication(
            fe.ListApplicationRequest(), metadata=bearer(token), timeout=10
        ).applications


def _register_message() -> be.NodeMessage:
    node = pb.Node(
        metadata=pb.Metadata(id="rogue-node", name="rogue-node"),
        spec=pb.NodeSpec(hostname="rogue-node"),
        status=pb.NodeStatus(
            state=pb.Ready,
            capacity=pb.ResourceRequirement(cpu=64, memory=1 << 40),
            allocatable=pb.ResourceRequirement(cpu=64, memory=1 << 40),
        ),
    )
    return be.NodeMessage(register=be.RegisterNode(node=node, shims=[pb.Host]))


@pytest.mark.parametrize("who", ["no-token", "client-token", "wrong-token"])
def test_a_rogue_node_cannot_attach(cluster: LocalCluster, raw: grpc.Channel, who: str) -> None:
    token = {"no-token": None, "client-token": cluster.client_token, "wrong-token": WRONG_TOKEN}[who]
    md = bearer(token) if token else ()
    stream = backend_pb2_grpc.BackendStub(raw).Attach(iter([_register_message()]), metadata=md, timeout=10)
    details = refused(lambda: next(stream))
    assert "node token" in details or "not valid" in details
    with flamepy.Connection(cluster.endpoint) as conn:
        assert "rogue-node" not in [n.name for n in conn.list_nodes()]


def test_a_cache_client_without_credentials_gets_nothing(
    cluster: LocalCluster, raw_cache: grpc.Channel
) -> None:
    with CacheClient(cluster.cache_endpoint) as owner:  # finds the token in this user's registry
        ref = owner.put_object("sec/app/secret", b"model weights")
    stub = cache_pb2_grpc.ObjectCacheStub(raw_cache)
    header = cache_pb2.WriteHeader(key="sec/app/planted", encoding=cache_pb2.ENCODING_RAW, size=1)
    writes = [cache_pb2.WriteRequest(header=header), cache_pb2.WriteRequest(data=b"x")]
    for md in ((), bearer(WRONG_TOKEN)):
        refused(lambda md=md: list(stub.Get(cache_pb2.GetRequest(key="sec/app/secret"), metadata=md)))
        refused(lambda md=md: stub.Put(iter(writes), metadata=md))
        refused(lambda md=md: stub.Delete(cache_pb2.DeleteRequest(pattern="sec/*"), metadata=md))
        refused(lambda md=md: stub.GetHandover(cache_pb2.HandoverRequest(), metadata=md))
        refused(lambda md=md: stub.Stat(cache_pb2.StatRequest(key="sec/app/secret"), metadata=md))
    with CacheClient(cluster.cache_endpoint) as owner:
        assert owner.get_object(ref) == b"model weights"


def test_the_sdk_raises_authentication_error_at_once(cluster: LocalCluster) -> None:
    started = time.monotonic()
    wrong = flamepy.Connection(cluster.endpoint, token=WRONG_TOKEN, retry_deadline=60)
    with wrong as conn, pytest.raises(AuthenticationError, match="not valid for this Flame cluster"):
        conn.list_applications()
    with CacheClient(cluster.cache_endpoint, token=WRONG_TOKEN) as cache, pytest.raises(AuthenticationError):
        cache.put_object("sec/app/x", b"x")
    assert time.monotonic() - started < 10  # refused, not retried for the 60 s deadline


def test_token_resolution_order(tmp_path: Path) -> None:
    from flamepy.config import FlameContext
    from flamepy.transport.auth import resolve_token

    (tmp_path / "env.token").write_text("from-env-file\n")
    (tmp_path / "ctx.token").write_text("from-context\n")
    ctx = FlameContext(token_file=str(tmp_path / "ctx.token"))
    env = {"FLAME_TOKEN": "from-env", "FLAME_TOKEN_FILE": str(tmp_path / "env.token")}
    target = "127.0.0.1:1"  # a port nothing runs on: its registry entry is ours alone
    credentials.remember(target, "from-registry")
    try:
        assert resolve_token("http://" + target, "explicit", env, ctx) == "explicit"
        assert resolve_token("http://" + target, None, env, ctx) == "from-env"
        assert resolve_token(
            "http://" + target, None, {"FLAME_TOKEN_FILE": env["FLAME_TOKEN_FILE"]}, ctx
        ) == ("from-env-file")
        assert resolve_token("http://" + target, None, {}, ctx) == "from-context"
        assert resolve_token("http://" + target, None, {}, FlameContext()) == "from-registry"
        assert resolve_token("http://localhost:1", None, {}, FlameContext()) == "from-registry"
    finally:
        credentials.forget(target)
    assert resolve_token("http://" + target, None, {}, FlameContext()) is None


def test_files_are_owner_only(cluster: LocalCluster) -> None:
    assert cluster.auth_dir is not None
    assert mode(cluster.data_dir) == 0o700
    assert mode(cluster.auth_dir) == 0o700
    for name in ("client.token", "node.token"):
        assert mode(cluster.auth_dir / name) == 0o600
    for name in ("flame.db", "flame.db-wal", "flame.db-shm"):
        if (cluster.data_dir / name).exists() or name == "flame.db":
            assert mode(cluster.data_dir / name) == 0o600, name
    registry = credentials.registry_file(f"127.0.0.1:{cluster.port}")
    assert mode(registry.parent) == 0o700 and mode(registry) == 0o600
    assert registry.read_text().strip() == cluster.client_token
    assert credentials.recall(f"127.0.0.1:{cluster.cache_port}") == cluster.client_token


def test_an_executor_manager_without_the_node_token_exits_saying_why(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAME_")}
    args = [sys.executable, "-m", "executor", "--endpoint", cluster.endpoint, "--name", "tokenless",
            "--work-dir", str(tmp_path / "work"), "--no-local-pipe"]  # fmt: skip
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "refused this node without a token" in done.stderr and "--token-file" in done.stderr


def test_token_auth_without_a_directory_fails_at_start_naming_auth_dir() -> None:
    args = [sys.executable, "-m", "session_manager", "--port", "0", "--storage", "memory", "--data-dir", ""]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "--auth-dir" in done.stderr


def test_auth_none_lets_an_unauthenticated_raw_client_in(tmp_path: Path) -> None:
    with LocalCluster(tmp_path / "open", port=0, auth="none") as open_cluster:
        assert open_cluster.client_token is None and open_cluster.auth_dir is None
        with grpc.insecure_channel(f"127.0.0.1:{open_cluster.port}") as ch:
            apps = frontend_pb2_grpc.FrontendStub(ch).ListApplication(fe.ListApplicationRequest(), timeout=10)
            assert "flmping" in [a.metadata.name for a in apps.applications]
        assert credentials.recall(f"127.0.0.1:{open_cluster.port}") is None


def test_services_get_the_node_token(cluster: LocalCluster) -> None:
    """A service process sees FLAME_TOKEN = the node token (so it can use the SDK and the cache on
    any node, without this user's registry); the executor's own FLAME_NODE_TOKEN is not passed on."""
    with flamepy.Connection(cluster.endpoint) as conn:
        ssn = conn.create_session(flamepy.SessionAttributes(application="flmexec"))
        try:
            out = ssn.invoke(b'printf "%s|%s" "$FLAME_TOKEN" "${FLAME_NODE_TOKEN:-unset}"')
        finally:
            ssn.close()
    assert out == f"{cluster.node_token}|unset".encode()
