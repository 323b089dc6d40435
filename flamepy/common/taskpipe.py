"""The task pipe: a same-host fast path for OnTaskInvoke between our executor and a flamepy service.

``flame.v1.Instance`` over gRPC stays the contract (independent services speak only that), but a
Python gRPC unary call costs a few hundred microseconds on each side — more than a no-op task. So
our executor also passes ``FLAMEPY_TASK_PIPE`` (a Unix socket path) to the service process; a
:func:`flamepy.run` service listens there as well, *before* it starts its gRPC server, and the
executor sends tasks over it when the socket exists (an independent service never creates it).

Wire format, in both directions: frames of a 4-byte big-endian length and that many bytes. The
executor sends a serialized ``flame.v1.TaskContext``; the service answers each one, in order, with a
serialized ``flame.v1.TaskResult``. One connection; the executor may send tasks before earlier ones
are answered (the service still runs them one at a time, in order, and writes each result as soon as
it is ready). OnSessionEnter and OnSessionLeave stay on gRPC. End of stream means the
service process is gone.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

ENV = "FLAMEPY_TASK_PIPE"
SUFFIX = ".pipe"  # the executor's pipe path is the Instance socket's path plus this
HEADER = struct.Struct("!I")
MAX_FRAME = 1 << 31  # a sanity bound on a frame's length, not a product limit
# Unix socket paths stay shorter than this: sun_path is 108 bytes on Linux (104 on macOS)
MAX_SOCKET_PATH = 100


class PipeError(Exception):
    """The pipe broke or carried a malformed frame."""


def frame(payload: bytes) -> bytes:
    """``payload`` with its length header."""
    return HEADER.pack(len(payload)) + payload


def frame_length(header: bytes) -> int:
    """The payload length a 4-byte header announces; :class:`PipeError` when out of bounds."""
    (n,) = HEADER.unpack(header)
    if n >= MAX_FRAME:
        raise PipeError(f"task pipe frame of {n} bytes is out of bounds")
    return n


def take_frames(buf: bytearray) -> Iterator[bytes]:
    """The payloads of the complete frames at the start of ``buf``, each removed from it as it is
    taken; :class:`PipeError` at an out-of-bounds header (after the frames before it)."""
    while len(buf) >= HEADER.size:
        end = HEADER.size + frame_length(bytes(buf[: HEADER.size]))
        if len(buf) < end:
            return
        payload = bytes(buf[HEADER.size : end])
        del buf[:end]
        yield payload
