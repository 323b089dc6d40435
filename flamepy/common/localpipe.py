"""The local protocol: a same-host fast path to our session manager over a Unix socket.

gRPC stays the contract, and independent clients and executor managers use only that; but one
Python gRPC hop costs a few hundred microseconds a message on each side, more than the rest of a
task's round trip. So our session manager also listens on a Unix socket and names it (with a
token) in ``FrontendExt.GetLocalEndpoint``; our SDK and executor manager use it when they run on
the same host and can open it, and fall back to gRPC otherwise.

Frames as in :mod:`flamepy.common.taskpipe` (4-byte big-endian length, payload). The connecting side's
first frame is ``flame-local/1 <role> <token>``; the server answers ``ok`` (or ``error <why>`` and
closes). Then, by role:

* ``client`` — ``FrontendExt.RunTask``: each request is a serialized ``RunTaskRequest``; each reply
  is one status byte (0, then a serialized ``flame.v1.Task``; or the gRPC status code, then the
  UTF-8 error message). One request at a time per connection.
* ``node`` — ``Backend.Attach``: serialized ``NodeMessage`` frames in, ``ManagerMessage`` frames
  out, with the same meaning as on the gRPC stream.
"""

from __future__ import annotations

import asyncio

from flamepy.common.taskpipe import HEADER, MAX_SOCKET_PATH, PipeError, frame, frame_length

VERSION = "flame-local/1"
ROLE_CLIENT = "client"
ROLE_NODE = "node"
OK = b"ok"

__all__ = ["MAX_SOCKET_PATH", "OK", "PipeError", "frame", "hello", "parse_hello", "read_frame"]


def hello(role: str, token: str) -> bytes:
    return frame(f"{VERSION} {role} {token}".encode())


def parse_hello(payload: bytes) -> tuple[str, str]:
    """(role, token) of a hello frame's payload; :class:`PipeError` when it is not one."""
    parts = payload.decode("utf-8", "replace").split(" ")
    if len(parts) != 3 or parts[0] != VERSION:
        raise PipeError(f"not a {VERSION} hello")
    return parts[1], parts[2]


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """The next frame's payload; None at a clean end of stream, :class:`PipeError` inside a frame."""
    try:
        header = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise PipeError("local pipe closed inside a frame header") from None
    n = frame_length(header)
    try:
        return await reader.readexactly(n)
    except asyncio.IncompleteReadError:
        raise PipeError("local pipe closed inside a frame") from None
