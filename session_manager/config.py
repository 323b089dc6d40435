"""Session manager settings (command line → this dataclass)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flamepy.tasklog import NODE_LOG_TIMEOUT_S
from flamepy.tls import ServerTlsConfig
from session_manager.limits import Limits


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080  # 0 picks a free port
    data_dir: str | None = None
    storage: str = "sqlite"  # sqlite | memory
    # SQLite durability: "normal" (WAL) survives kill -9 of the session manager; "full" also
    # survives power loss / OS crash at ~1 ms fsync per group commit.
    sync: str = "normal"
    port_file: str | None = None  # the bound port is written here once listening
    advertised_endpoint: str | None = None  # FLAME_ENDPOINT given to services; default http://host:port
    cache_endpoint: str | None = None  # FLAME_CACHE_ENDPOINT given to services
    default_delay_release: float = 60.0  # seconds an idle executor stays bound to its session
    prefetch: int = 16  # most tasks one executor holds (short tasks only; see core.sessions.window)
    # bind failures in a row after which a session stops binding and its tasks fail (core.failures)
    max_bind_failures: int = 5
    # seconds a session may wait for a node that can hold its resource request before its tasks fail
    unschedulable_timeout: float = 10.0
    # seconds without a message from a node (its executor manager heartbeats every 2 s) before it
    # is NotReady: its executors are dropped and their tasks run again elsewhere
    node_timeout: float = 10.0
    # re-runs of a task after infrastructure failures (node lost, executor or service died running
    # it) before it fails with its history; the default of applications and sessions
    max_retries: int = 3
    retry_on_error: bool = False  # also re-run (under max_retries) tasks that failed on their own
    # seconds one attempt of a task may run (None: no limit); the default of applications/sessions
    task_timeout: float | None = None
    # seconds an executor manager may take to stop a service before the session manager drops the
    # executor and returns its resources (timed-out tasks: this long after their timeout)
    stop_timeout: float = 30.0
    # seconds a ReadTaskLog waits for the node holding the log to answer (then UNAVAILABLE)
    node_log_timeout: float = NODE_LOG_TIMEOUT_S
    max_message_bytes: int = 64 * 1024 * 1024  # gRPC receive limit of the server
    # Unix socket of the same-host fast path (flamepy/localpipe.py): None = <data_dir>/sm.sock, "" = off
    local_socket: str | None = None
    # bounds on what one request may ask for (session_manager.limits, docs/limits.md)
    limits: Limits = field(default_factory=Limits)
    # who may call (docs/security.md): "token" (client and node tokens, flamepy.common.grpc_auth)
    # or "none" (anyone who reaches the port: for independent Flame clients on a trusted host)
    auth: str = "token"
    auth_dir: str | None = None  # where the tokens live; None = <data_dir>/auth

    @property
    def tokens_dir(self) -> str | None:
        """The auth directory in effect (None when there is neither an auth dir nor a data dir)."""
        if self.auth_dir:
            return self.auth_dir
        return str(Path(self.data_dir) / "auth") if self.data_dir else None
    # TLS on the gRPC port (--tls-cert/--tls-key[/--tls-client-ca]): the endpoint becomes https://
    tls: ServerTlsConfig | None = None
