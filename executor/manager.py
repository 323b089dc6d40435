"""The executor manager's connection to the session manager: ``flamepy.v1.Backend/Attach``.

Concurrency model: one asyncio event loop per node process. :class:`ExecutorManager.run` keeps
one Attach stream open: it registers the node, sends a heartbeat every few seconds, and feeds the
session manager's messages to a :class:`~executor.node.NodeSession`. When the stream breaks (or
cannot be opened) every service process is terminated and the manager reconnects with capped
exponential backoff, until ``stop`` is set. Outbound messages go through one queue drained by the
stream's request iterator, so there is exactly one writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping

import grpc

from executor import convert
from executor.backoff import Backoff
from executor.config import NODE_TOKEN_ENV, ManagerConfig, parse_endpoint
from executor.events import HeartbeatTick, OutboundMessage, Registered, RegisterNode
from executor.launcher import Launcher, SubprocessLauncher
from executor.local_attach import LocalAttach, find_local
from executor.node import NodeSession
from executor.resources import describe_node
from executor.shim import HostShim, ShimSettings
from flamepy.common.taskpipe import PipeError
from flamepy.errors import AuthenticationError, FlameError
from flamepy.proto import backend_pb2_grpc
from flamepy.tls import TlsConfig, channel_credentials

log = logging.getLogger(__name__)


# Same limit as the session manager's server: the stream carries task inputs and outputs.
_MESSAGE_LIMIT = 64 * 1024 * 1024
_OPTIONS = [
    ("grpc.max_receive_message_length", _MESSAGE_LIMIT),
    ("grpc.max_send_message_length", _MESSAGE_LIMIT),
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
]


class ExecutorManager:
    def __init__(
        self,
        config: ManagerConfig,
        launcher: Launcher | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self._launcher = launcher or SubprocessLauncher()
        self._env = env
        self.session: NodeSession | None = None  # the live stream's executors (None when detached)
        self.attach_count = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Stay attached (reconnecting with backoff) until ``stop`` is set; then clean up."""
        backoff = Backoff(self.config.backoff_initial, self.config.backoff_max)
        while not stop.is_set():
            registered = await self._attach_once(stop)
            if stop.is_set():
                break
            if registered:
                backoff.reset()
            delay = backoff.next()
            log.info("reconnecting to %s in %.1fs", self.config.endpoint, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
        log.info("executor manager %s stopped", self.config.name)

    def _channel(self) -> grpc.aio.Channel:
        target = parse_endpoint(self.config.endpoint)
        if target.secure:
            c = self.config
            creds = channel_credentials(TlsConfig(c.ca_file, c.client_cert, c.client_key), None)
            return grpc.aio.secure_channel(target.address, creds, _OPTIONS)
        return grpc.aio.insecure_channel(target.address, options=_OPTIONS)

    async def _attach_once(self, stop: asyncio.Event) -> bool:
        """One Attach stream, from connect to break (or stop). True if it got registered."""
        self.attach_count += 1
        outbound: asyncio.Queue[OutboundMessage] = asyncio.Queue()
        outbound.put_nowait(RegisterNode(describe_node(self.config.name, self._env)))
        channel = self._channel()
        stopper = asyncio.ensure_future(stop.wait())
        stream: asyncio.Future[bool] | None = None
        call: grpc.aio.StreamStreamCall | LocalAttach | None = None
        registered = False
        try:
            call = await self._open_stream(channel, outbound)
            stream = asyncio.ensure_future(self._serve(call, outbound))
            await asyncio.wait({stream, stopper}, return_when="FIRST_COMPLETED")
            if stream.done():
                registered = stream.result()
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                raise _refused(self.config, exc.details() or "") from None
            log.warning("stream to %s broke: %s: %s", self.config.endpoint, exc.code().name, exc.details())
        except PipeError as exc:
            log.warning("local stream to the session manager broke: %s", exc)
        except TimeoutError:
            log.warning(
                "no 'registered' from %s within %gs", self.config.endpoint, self.config.register_timeout
            )
        except Exception:  # keep the node alive across bugs too; the stream is rebuilt below
            log.exception("unexpected error on the stream to %s", self.config.endpoint)
        finally:
            stopper.cancel()
            if stream is not None:
                stream.cancel()
                await asyncio.gather(stream, return_exceptions=True)
            if call is not None:
                call.cancel()
            if self.session is not None:
                registered = True
                await self.session.close()
                self.session = None
            await channel.close()
        return registered

    async def _open_stream(
        self, channel: grpc.aio.Channel, outbound: asyncio.Queue[OutboundMessage]
    ) -> grpc.aio.StreamStreamCall | LocalAttach:
        """The Attach stream: over the session manager's local socket when it offers one this
        process can open (same host), else gRPC."""
        if self.config.local_pipe:
            local = await find_local(channel, self.config.register_timeout, self.config.metadata)
            if local is not None:
                try:
                    call = await LocalAttach.open(*local, _requests(outbound), self.config.register_timeout)
                except (OSError, PipeError, TimeoutError) as exc:
                    log.warning("local socket %s not usable (%s); attaching over gRPC", local[0], exc)
                else:
                    log.info("attaching over the local socket %s", local[0])
                    return call
        stub = backend_pb2_grpc.BackendStub(channel)
        return stub.Attach(_requests(outbound), metadata=self.config.metadata)

    async def _serve(self, call, outbound: asyncio.Queue[OutboundMessage]) -> bool:
        first = await asyncio.wait_for(call.read(), self.config.register_timeout)
        if first is grpc.aio.EOF:
            log.warning("session manager closed the stream before registering us")
            return False
        reply = convert.decode_manager_message(first)
        if not isinstance(reply, Registered):
            log.error("expected 'registered' from the session manager, got %s", type(reply).__name__)
            return False
        self.session = NodeSession(HostShim(self._shim_settings(reply), self._launcher), outbound.put_nowait)
        log.info("node %s registered with %s", self.config.name, self.config.endpoint)
        heartbeat = asyncio.ensure_future(self._heartbeat(outbound))
        try:
            while True:
                msg = await call.read()
                if msg is grpc.aio.EOF:
                    log.warning("session manager closed the stream")
                    return True
                try:
                    decoded = convert.decode_manager_messages(msg)
                except FlameError as exc:
                    log.error("ignoring a message from the session manager: %s", exc)
                    continue
                for request in decoded:
                    self.session.handle(request)
        finally:
            heartbeat.cancel()

    def _shim_settings(self, reply: Registered) -> ShimSettings:
        c = self.config
        return ShimSettings(
            work_dir=c.work_dir,
            frontend_endpoint=reply.frontend_endpoint or c.endpoint,
            cache_endpoint=reply.cache_endpoint,
            log_level=c.log_level,
            bind_timeout=c.bind_timeout,
            leave_timeout=c.leave_timeout,
            terminate_grace=c.terminate_grace,
            token=c.token,
            ca_file=c.ca_file or "",
            node_address=c.advertise_address,
        )

    async def _heartbeat(self, outbound: asyncio.Queue[OutboundMessage]) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_interval)  # a ticker, not a poll
            outbound.put_nowait(HeartbeatTick(int(time.time() * 1000)))


def _refused(config: ManagerConfig, details: str) -> AuthenticationError:
    """The fatal error of a session manager that refused this node's credentials (retrying would
    only repeat it: the process exits non-zero saying so)."""
    given = "with the token given"
    if not config.token:
        given = f"without a token (no --token-file, no ${NODE_TOKEN_ENV})"
    return AuthenticationError(f"{config.endpoint} refused this node {given}: {details}")


async def _requests(outbound: asyncio.Queue[OutboundMessage]) -> AsyncIterator:
    """The stream's messages: whatever is queued when the stream can take more goes as one batch."""
    while True:
        ready = [await outbound.get()]
        while not outbound.empty():
            ready.append(outbound.get_nowait())
        for msg in convert.encode_node_messages(ready):
            yield msg
