"""``python -m executor`` / ``flame-executor-manager``: run this node's executor manager.

One asyncio event loop for the whole process; SIGTERM/SIGINT set the stop event, every service
process group is terminated, and the process exits 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from executor import resources
from executor.address import advertise_address
from executor.config import NODE_TOKEN_ENV, ManagerConfig, node_token, parse_endpoint
from executor.manager import ExecutorManager
from flamepy.common.serve import run_until_signal, stop_event
from flamepy.errors import FlameError

log = logging.getLogger(__name__)


def parse_args(argv: Sequence[str] | None = None) -> ManagerConfig:
    parser = argparse.ArgumentParser(prog="flame-executor-manager", description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="session manager, e.g. http://127.0.0.1:8080")
    parser.add_argument("--name", default=socket.gethostname(), help="node name (default: hostname)")
    parser.add_argument("--work-dir", required=True, type=Path, help="sockets and logs go here")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    parser.add_argument(
        "--bind-timeout",
        type=float,
        default=30.0,
        help="seconds for a service process to serve its socket (default 30)",
    )
    parser.add_argument(
        "--kill-grace",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="when a service process is stopped (release, task timeout, cancel): seconds between "
        "SIGTERM and SIGKILL to its process group (default 10)",
    )
    parser.add_argument(
        "--no-local-pipe",
        action="store_true",
        help="always attach over gRPC, even when the session manager offers a local socket on this host",
    )
    _add_credential_args(parser)
    parser.add_argument(
        "--overcommit",
        action="store_true",
        help="allow advertising more CPUs, memory or GPUs (FLAME_NODE_CPUS, FLAME_NODE_MEMORY, "
        "FLAME_FAKE_GPUS) than this machine has (also FLAME_OVERCOMMIT=1); refused otherwise",
    )
    args = parser.parse_args(argv)
    try:
        parse_endpoint(args.endpoint)
        token = node_token(args.token_file, dict(os.environ))
    except FlameError as exc:
        parser.error(exc.message)
    if args.bind_timeout <= 0:
        parser.error("--bind-timeout must be positive")
    if args.kill_grace < 0:
        parser.error("--kill-grace must not be negative")
    if (args.client_cert is None) != (args.client_key is None):
        parser.error("--client-cert and --client-key go together")
    return ManagerConfig(
        endpoint=args.endpoint,
        name=args.name,
        work_dir=args.work_dir.resolve(),
        log_level=args.log_level.upper(),
        bind_timeout=args.bind_timeout,
        terminate_grace=args.kill_grace,
        local_pipe=not args.no_local_pipe,
        token=token,
        ca_file=_absolute(args.ca_file),
        client_cert=_absolute(args.client_cert),
        client_key=_absolute(args.client_key),
        overcommit=args.overcommit or resources.overcommit_from_env(),
        advertise_address=advertise_address(args.advertise_address, dict(os.environ), args.endpoint),
    )


def _add_credential_args(parser: argparse.ArgumentParser) -> None:
    """The node token and the TLS settings of the connection to the session manager, and the
    address this node is reached at."""
    parser.add_argument(
        "--advertise-address",
        metavar="ADDR",
        help="the address other nodes reach this node at, given to services as FLAME_NODE_ADDRESS "
        "(multi-rank jobs use rank 0's as MASTER_ADDR); default: $FLAME_NODE_ADDRESS, else the "
        "address of the interface that routes to the session manager (127.0.0.1 when it is on loopback)",
    )
    parser.add_argument(
        "--token-file",
        help=f"file holding the cluster's node token (default: ${NODE_TOKEN_ENV}; none: the cluster "
        "must run with --auth none). `flmctl cluster token` prints it",
    )
    parser.add_argument(
        "--ca-file",
        metavar="PEM",
        default=os.environ.get("FLAME_CA_FILE") or None,
        help="CA certificate to trust for an https:// endpoint (default: FLAME_CA_FILE, else the "
        "system's roots); also given to services as FLAME_CA_FILE",
    )
    parser.add_argument(
        "--client-cert",
        metavar="PEM",
        help="present this certificate to an https:// session manager that requires client "
        "certificates (its --tls-client-ca; needs --client-key)",
    )
    parser.add_argument("--client-key", metavar="PEM", help="the private key of --client-cert")


def _absolute(path: str | None) -> str | None:
    return str(Path(path).expanduser().resolve()) if path else None


async def serve(config: ManagerConfig) -> None:
    stop = stop_event()
    config.work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # sockets, logs: owner only
    if config.work_dir.stat().st_mode & 0o077:
        log.warning("%s was open to other users: made it 0700 (owner only)", config.work_dir)
        config.work_dir.chmod(0o700)
    log.info(
        "executor manager %s: work dir %s, session manager %s", config.name, config.work_dir, config.endpoint
    )
    await ExecutorManager(config).run(stop)


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    try:  # what this node would advertise, against the machine: a clear start error if it lies
        resources.check_capacity(resources.detect_capacity(), resources.host_capacity(), config.overcommit)
    except FlameError as exc:
        sys.stderr.write(f"flame-executor-manager: error: {exc.message}\n")
        return 2
    return run_until_signal(lambda: serve(config), config.log_level)


if __name__ == "__main__":
    sys.exit(main())
