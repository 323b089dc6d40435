"""Run as another local user by test_local_user.py: try to read the cluster's secrets and data and
to submit work; print what happened as one JSON object.

    python rogue_user.py DATA_DIR ENDPOINT
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import grpc


def try_read(path: Path) -> str:
    try:
        path.read_bytes()
    except PermissionError:
        return "denied"
    except OSError as exc:
        return f"error {exc.errno}"
    return "read"


def try_connect(path: Path) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except PermissionError:
            return "denied"
        except OSError as exc:
            return f"error {exc.errno}"
    return "connected"


def try_submit(endpoint: str) -> str:
    from flamepy.proto import frontend_pb2, frontend_pb2_grpc
    from flamepy.proto import types_pb2 as pb

    with grpc.insecure_channel(endpoint.split("://", 1)[-1]) as ch:
        request = frontend_pb2.CreateSessionRequest(
            session_id="rogue-user", session=pb.SessionSpec(application="flmexec")
        )
        try:
            frontend_pb2_grpc.FrontendStub(ch).CreateSession(request, timeout=10)
        except grpc.RpcError as exc:
            return exc.code().name
    return "created"


def try_sdk(endpoint: str) -> str:
    import flamepy

    try:
        with flamepy.Connection(endpoint) as conn:
            conn.list_sessions()
    except flamepy.FlameError as exc:
        return type(exc).__name__
    return "listed"


def main() -> None:
    data_dir, endpoint = Path(sys.argv[1]), sys.argv[2]
    result = {
        "client.token": try_read(data_dir / "auth" / "client.token"),
        "node.token": try_read(data_dir / "auth" / "node.token"),
        "flame.db": try_read(data_dir / "flame.db"),
        "sm.sock": try_connect(data_dir / "sm.sock"),
        "raw": try_submit(endpoint),
        "sdk": try_sdk(endpoint),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
