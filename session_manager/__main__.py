"""``python -m session_manager``: run the session manager until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import sys

from flamepy.common.credentials import AUTH_MODES
from flamepy.common.serve import run_until_signal, serve_until_signal
from flamepy.errors import FlameError
from flamepy.tls import ServerTlsConfig, add_tls_args, server_tls
from session_manager.config import ServerConfig
from session_manager.limits import Limits, limits_from
from session_manager.server import SessionManager


def parse_args(argv: list[str] | None) -> tuple[ServerConfig, str]:
    p = argparse.ArgumentParser(prog="flame-session-manager", description="Flame session manager")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    p.add_argument("--data-dir", default=".flame-local", help="directory of the SQLite store")
    p.add_argument("--port-file", help="write the bound port here once listening")
    p.add_argument("--storage", choices=["sqlite", "memory"], default="sqlite")
    p.add_argument(
        "--sync",
        choices=["normal", "full"],
        default="normal",
        help="SQLite durability: normal survives kill -9 (default); full also survives power loss",
    )
    p.add_argument("--advertise", help="Frontend address given to services (FLAME_ENDPOINT)")
    p.add_argument("--cache-endpoint", help="object cache address given to services")
    p.add_argument("--delay-release", type=float, default=60.0, help="seconds idle executors stay bound")
    p.add_argument(
        "--prefetch",
        type=int,
        default=16,
        help="most tasks one executor holds at once, for sessions of short tasks (default 16)",
    )
    _add_reliability_args(p)
    p.add_argument(
        "--local-socket",
        help="Unix socket for same-host clients and executor managers (default <data-dir>/sm.sock; '' = off)",
    )
    _add_limit_arg(p)
    _add_auth_args(p)
    add_tls_args(p)
    p.add_argument("--log-level", default="INFO")
    a = p.parse_args(argv)
    limits, tls = _limits_and_tls(p, a)
    cfg = ServerConfig(
        host=a.host,
        port=a.port,
        data_dir=a.data_dir,
        storage=a.storage,
        sync=a.sync,
        port_file=a.port_file,
        advertised_endpoint=a.advertise,
        cache_endpoint=a.cache_endpoint,
        default_delay_release=a.delay_release,
        prefetch=a.prefetch,
        max_bind_failures=a.max_bind_failures,
        unschedulable_timeout=a.unschedulable_timeout,
        node_timeout=a.node_timeout,
        max_retries=a.max_retries,
        retry_on_error=a.retry_on_error,
        task_timeout=a.task_timeout or None,
        stop_timeout=a.stop_timeout,
        local_socket=a.local_socket,
        limits=limits,
        auth=a.auth,
        auth_dir=a.auth_dir,
        tls=tls,
    )
    return cfg, a.log_level


def _add_auth_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--auth",
        choices=AUTH_MODES,
        default="token",
        help="token (default): clients need the client token, executor managers the node token; "
        "none: anyone who reaches the port may submit code (independent Flame clients, trusted host)",
    )
    p.add_argument(
        "--auth-dir",
        help="directory of client.token and node.token, created when absent (default <data-dir>/auth)",
    )


def _limits_and_tls(
    p: argparse.ArgumentParser, a: argparse.Namespace
) -> tuple[Limits, ServerTlsConfig | None]:
    try:
        limits = limits_from(a.limit)
    except ValueError as exc:
        p.error(f"--limit: {exc}")
    try:
        tls = server_tls(a.tls_cert, a.tls_key, a.tls_client_ca)
    except FlameError as exc:
        p.error(exc.message)
    return limits, tls


def _add_limit_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change one bound on what a request may ask for, e.g. max_tasks_per_request=5000 "
        "(repeatable; the names and defaults are in docs/limits.md)",
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_reliability_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-bind-failures",
        type=_positive_int,
        default=5,
        help="bind failures in a row (the service fails to start) after which a session stops "
        "binding and its pending and later tasks fail with the service's last error (default 5)",
    )
    p.add_argument(
        "--unschedulable-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long a session may wait for a node that can hold its resource request (or for "
        "any executor manager) before its pending and later tasks fail saying so (default 10)",
    )
    p.add_argument(
        "--node-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="a node silent this long is NotReady: its executors are dropped and their tasks run "
        "again elsewhere (default 10; executor managers heartbeat every 2 s)",
    )
    p.add_argument(
        "--max-retries",
        type=_non_negative_int,
        default=3,
        help="re-runs of a task after its node, executor or service died running it, before it "
        "fails with its history (default 3)",
    )
    p.add_argument(
        "--retry-on-error",
        action="store_true",
        help="also re-run tasks that failed on their own (an exception in the service), under --max-retries",
    )
    p.add_argument(
        "--task-timeout",
        type=_non_negative_float,
        default=None,
        metavar="SECONDS",
        help="wall-clock limit of one attempt of a task, for applications and sessions that set "
        "none (default: no limit); past it the service is stopped and the task fails (Timeout)",
    )
    p.add_argument(
        "--stop-timeout",
        type=_non_negative_float,
        default=30.0,
        metavar="SECONDS",
        help="how long an executor manager may take to stop a service (release, timeout, cancel) "
        "before its executor is dropped and its resources returned (default 30)",
    )


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a non-negative number of seconds, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


async def serve(cfg: ServerConfig) -> None:
    await serve_until_signal(SessionManager(cfg))


def main(argv: list[str] | None = None) -> int:
    cfg, level = parse_args(argv)
    return run_until_signal(lambda: serve(cfg), level)


if __name__ == "__main__":
    sys.exit(main())
