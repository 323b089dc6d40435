"""The session manager process: wires the broker to its transports (imported only by ``__main__``
and tests).

Layers, pointing one way (``scripts/check_structure.py`` and ``tests/session_manager/test_layers.py``
keep them so):

    server.py            wiring: storage → Broker → transports; lifecycle, ports
    frontend.py, frontend_ext.py, backend.py (gRPC), local.py (Unix socket)
                         transports: decode → one broker call → encode; they share
                         node_stream.py (the Backend stream) and never import each other
    broker.py            the one application API (asyncio shell): events into the core, the
                         outbox out to links.py (node streams), persist.py (storage), watchers
    core/                the sans-IO core: Core.handle(event) → records, commands, notifications

Concurrency model: one asyncio event loop owns the broker, the gRPC server and the local socket;
the only other thread is the storage writer (group commit).

Client and node credentials are checked by one gRPC server interceptor
(:mod:`flamepy.common.grpc_auth`), passed to ``grpc.aio.server`` in ``start``; the local socket
checks its own token in ``local.py``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import grpc

from flamepy.common.grpc_auth import server_interceptors, server_tokens
from flamepy.proto import backend_pb2_grpc, extensions_pb2_grpc, frontend_pb2_grpc
from flamepy.tls import server_credentials
from session_manager.backend import BackendServicer
from session_manager.broker import Broker, Endpoints, LocalEndpoint
from session_manager.config import ServerConfig
from session_manager.frontend import FrontendServicer
from session_manager.frontend_ext import FrontendExtServicer
from session_manager.local import LocalServer, local_socket_path
from session_manager.storage import Storage, open_storage

log = logging.getLogger(__name__)


class SessionManager:
    def __init__(self, config: ServerConfig, storage: Storage | None = None) -> None:
        self.config = config
        self.broker = Broker(config, storage or open_storage(config.storage, config.data_dir, config.sync))
        self._server: grpc.aio.Server | None = None
        self.local: LocalServer | None = None
        self.port = 0

    async def start(self) -> int:
        tokens = server_tokens(self.config.auth, self.config.tokens_dir, "session manager")
        await self.broker.start()
        # credentials are checked, then requests decoded (malformed: INVALID_ARGUMENT naming the field)
        self._server = grpc.aio.server(
            options=_grpc_options(self.config.max_message_bytes), interceptors=server_interceptors(tokens)
        )
        frontend_pb2_grpc.add_FrontendServicer_to_server(FrontendServicer(self.broker), self._server)
        extensions_pb2_grpc.add_FrontendExtServicer_to_server(FrontendExtServicer(self.broker), self._server)
        backend_pb2_grpc.add_BackendServicer_to_server(BackendServicer(self.broker), self._server)
        address = f"{self.config.host}:{self.config.port}"
        if self.config.tls is not None:
            self.port = self._server.add_secure_port(address, server_credentials(self.config.tls))
        else:
            self.port = self._server.add_insecure_port(address)
        if self.port == 0:
            raise OSError(f"cannot listen on {self.config.host}:{self.config.port}")
        local_path = local_socket_path(self.config.local_socket, self.config.data_dir)
        if local_path is not None:
            self.local = LocalServer(self.broker, local_path)
        local = LocalEndpoint(self.local.path, self.local.token) if self.local is not None else None
        self.broker.endpoints = Endpoints(self.frontend_endpoint, self.config.cache_endpoint or "", local)
        if self.local is not None:
            await self.local.start()
        await self._server.start()
        if self.config.port_file:
            _write_atomic(Path(self.config.port_file), str(self.port))
        log.info(
            "session manager listening on %s:%d (%s)",
            self.config.host,
            self.port,
            "plaintext" if self.config.tls is None else "TLS",
        )
        return self.port

    async def stop(self, grace: float = 1.0) -> None:
        self.broker.end_streams()
        if self.local is not None:
            await self.local.stop()
        if self._server is not None:
            await self._server.stop(grace)
        await self.broker.close()
        log.info("session manager stopped")

    async def __aenter__(self) -> SessionManager:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def frontend_endpoint(self) -> str:
        if self.config.advertised_endpoint:
            return self.config.advertised_endpoint
        host = "127.0.0.1" if self.config.host in ("0.0.0.0", "::", "[::]") else self.config.host
        scheme = "http" if self.config.tls is None else "https"
        return f"{scheme}://{host}:{self.port}"


def _grpc_options(limit: int) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", limit),
        ("grpc.max_send_message_length", limit),
        ("grpc.so_reuseport", 0),
        # notice dead executor managers / clients on idle streams
        ("grpc.keepalive_time_ms", 20_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
        ("grpc.keepalive_permit_without_calls", 1),
    ]


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
