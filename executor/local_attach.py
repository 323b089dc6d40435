"""``Backend.Attach`` over the session manager's local socket (:mod:`flamepy.common.localpipe`), for an
executor manager on the same host: the part of a grpc.aio stream call the manager uses (``read``
returning a message or ``grpc.aio.EOF``, ``cancel``), without gRPC's per-message cost.

:func:`find_local` asks the session manager (``FrontendExt.GetLocalEndpoint``) whether it offers a
local socket this process can open; any failure means "no", and the manager uses gRPC.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import grpc

from flamepy.common import localpipe
from flamepy.common.taskpipe import PipeError, frame
from flamepy.proto import backend_pb2 as be
from flamepy.proto import extensions_pb2, extensions_pb2_grpc

log = logging.getLogger(__name__)


async def find_local(
    channel: grpc.aio.Channel, timeout: float, metadata: tuple[tuple[str, str], ...] = ()
) -> tuple[Path, str] | None:
    """The session manager's local socket and token, when it offers one that exists here (asked
    with ``metadata``: the node token)."""
    stub = extensions_pb2_grpc.FrontendExtStub(channel)
    request = extensions_pb2.LocalEndpointRequest()
    try:
        reply = await stub.GetLocalEndpoint(request, timeout=timeout, metadata=metadata)
    except grpc.aio.AioRpcError as exc:
        log.debug("no local endpoint: %s", exc.code().name)
        return None
    path = Path(reply.path) if reply.path else None
    if path is None or not path.is_socket():
        return None
    return path, reply.token


class LocalAttach:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._sender: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls, path: Path, token: str, requests: AsyncIterator[be.NodeMessage], timeout: float
    ) -> LocalAttach:
        """Connect and greet; :class:`PipeError` or ``OSError`` when that fails."""
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), timeout)
        self = cls(reader, writer)
        try:
            writer.write(localpipe.hello(localpipe.ROLE_NODE, token))
            answer = await asyncio.wait_for(localpipe.read_frame(reader), timeout)
            if answer != localpipe.OK:
                why = (answer or b"no answer").decode(errors="replace")
                raise PipeError(f"local endpoint refused us: {why}")
        except BaseException:
            self.cancel()
            raise
        self._sender = asyncio.ensure_future(self._send(requests))
        return self

    async def _send(self, requests: AsyncIterator[be.NodeMessage]) -> None:
        try:
            async for msg in requests:
                self._writer.write(frame(msg.SerializeToString()))
                await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            log.debug("local attach: sending stopped: %s", exc)
            self._writer.transport.abort()

    async def read(self) -> be.ManagerMessage | object:
        """The next message, or ``grpc.aio.EOF`` when the session manager ended the stream."""
        try:
            payload = await localpipe.read_frame(self._reader)
        except (ConnectionError, OSError) as exc:
            raise PipeError(f"local stream broke: {exc}") from exc
        if payload is None:
            return grpc.aio.EOF
        return be.ManagerMessage.FromString(payload)

    def cancel(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
        with contextlib.suppress(Exception):
            self._writer.transport.abort()
