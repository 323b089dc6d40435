"""The same-host socket decodes and validates like gRPC: RunTask requests and node streams."""

from __future__ import annotations

import socket
from pathlib import Path

from flamepy.common import localpipe
from flamepy.common.taskpipe import HEADER, frame
from flamepy.proto import backend_pb2 as be
from flamepy.proto import extensions_pb2 as ext
from flamepy.proto import frontend_pb2 as fe
from flamepy.proto import types_pb2 as pb
from tests.validation.conftest import Clients


def _reply(sock: socket.socket) -> bytes | None:
    head = sock.recv(4, socket.MSG_WAITALL)
    if len(head) < 4:
        return None
    (n,) = HEADER.unpack(head)
    return sock.recv(n, socket.MSG_WAITALL)


def _connect(c: Clients, role: str) -> socket.socket:
    local = c.ext.GetLocalEndpoint(ext.LocalEndpointRequest(), timeout=10)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(str(Path(local.path)))
    sock.sendall(localpipe.hello(role, local.token))
    assert _reply(sock) == localpipe.OK
    return sock


def test_run_task_with_bad_utf8_or_a_huge_session_id_is_refused(clients) -> None:
    with _connect(clients, localpipe.ROLE_CLIENT) as sock:
        sock.sendall(frame(b"\x0a\x02\xc3\x28"))  # session_id: invalid UTF-8
        bad = _reply(sock)
        assert bad is not None and bad[0] == 3 and b"session_id: invalid UTF-8" in bad
        sock.sendall(frame(ext.RunTaskRequest(session_id="s" * 100_000).SerializeToString()))
        huge = _reply(sock)
        assert huge is not None and huge[0] == 3 and len(huge) < 300


def test_a_node_with_an_unknown_shim_is_refused_on_the_local_socket(clients) -> None:
    node = pb.Node(metadata=pb.Metadata(name="local-n"))
    register = be.NodeMessage(register=be.RegisterNode(node=node, shims=[pb.Host, 42]))
    with _connect(clients, localpipe.ROLE_NODE) as sock:
        sock.sendall(frame(register.SerializeToString()))
        assert _reply(sock) is None  # the stream is refused and closed
    assert list(clients.fe.ListNodes(fe.ListNodesRequest(), timeout=10).nodes) == []
