"""flamepy.v1.Backend servicer (gRPC): one bidirectional stream per executor manager (see
backend.proto), served by the transport-independent handler in ``session_manager.node_stream``.

Room for what comes next: node credentials (join token or mTLS identity) are checked once, in the
server's gRPC interceptor (wired in ``server.py``); the node name it vouches for would be passed
to ``node_stream`` so ``register_from_pb``'s name must match it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeAlias

import grpc

from flamepy.common.grpc_status import details_of, status_of
from flamepy.errors import FlameError
from flamepy.proto import backend_pb2 as be
from flamepy.proto import backend_pb2_grpc
from session_manager.broker import Broker
from session_manager.node_stream import node_stream

Ctx: TypeAlias = grpc.aio.ServicerContext


class BackendServicer(backend_pb2_grpc.BackendServicer):
    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    async def Attach(
        self, request_iterator: AsyncIterator[be.NodeMessage], context: Ctx
    ) -> AsyncIterator[be.ManagerMessage]:
        try:
            async for msg in node_stream(self.broker, request_iterator):
                yield msg
        except FlameError as exc:  # an invalid message; a node name that is already connected
            await context.abort(status_of(exc), details_of(exc))
