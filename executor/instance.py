"""A flame.v1 Instance client for one service process on its Unix socket (grpc.aio).

Every ``grpc.aio.AioRpcError`` becomes :class:`InstanceCallError` here (``raise ... from exc``).
"""

from __future__ import annotations

import grpc

from executor import convert
from executor.events import SessionContext, TaskRequest
from flamepy.proto import shim_pb2_grpc

# Connect retries to a socket that does not exist yet must be quick: the default first backoff is
# a full second. These bound how soon after the socket appears channel_ready() notices it.
_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.min_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 250),
    ("grpc.max_receive_message_length", -1),
    ("grpc.max_send_message_length", -1),
]


class InstanceCallError(Exception):
    """An Instance RPC failed at the transport or the service raised."""

    def __init__(self, method: str, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{method} failed: {code.name}: {details}")
        self.method = method
        self.code = code
        self.details = details

    @property
    def is_transport(self) -> bool:
        """The connection itself failed (the process is probably gone)."""
        return self.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)


class InstanceClient:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._channel = grpc.aio.insecure_channel(endpoint, options=_CHANNEL_OPTIONS)
        self._stub = shim_pb2_grpc.InstanceStub(self._channel)

    async def wait_ready(self) -> None:
        """Until the service accepts connections (cancel to give up)."""
        await self._channel.channel_ready()

    async def enter(self, session: SessionContext, timeout: float) -> tuple[int, str | None]:
        try:
            reply = await self._stub.OnSessionEnter(convert.session_to_pb(session), timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise InstanceCallError("OnSessionEnter", exc.code(), exc.details() or "") from exc
        return convert.result_from_pb(reply)

    async def invoke(self, task: TaskRequest) -> tuple[int, bytes | None, str | None]:
        try:
            reply = await self._stub.OnTaskInvoke(convert.task_to_pb(task))
        except grpc.aio.AioRpcError as exc:
            raise InstanceCallError("OnTaskInvoke", exc.code(), exc.details() or "") from exc
        return convert.task_result_from_pb(reply)

    async def leave(self, timeout: float) -> tuple[int, str | None]:
        try:
            reply = await self._stub.OnSessionLeave(convert.empty_request(), timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise InstanceCallError("OnSessionLeave", exc.code(), exc.details() or "") from exc
        return convert.result_from_pb(reply)

    async def close(self) -> None:
        await self._channel.close()
