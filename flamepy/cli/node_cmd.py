"""``flmctl node join``: run an executor manager in the foreground that joins a Flame cluster,
usually one on another host (``flmctl cluster token`` there prints the command).

The token never goes on a command line other users can read (``ps``): ``--token`` is handed to the
executor manager in its environment (``FLAME_NODE_TOKEN``), ``--token-file`` as a path.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys

from flamepy.cli.context import CliContext
from flamepy.common.credentials import read_token_file
from flamepy.config import parse_endpoint

DEFAULT_WORK_DIR = "~/.flame/node"
NODE_TOKEN_ENV = "FLAME_NODE_TOKEN"  # read by the executor manager (executor/config.py)


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("node", parents=[common], help="run this machine as a node of a cluster")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    join = actions.add_parser(
        "join", parents=[common], help="run an executor manager (foreground) that joins a cluster"
    )
    token = join.add_mutually_exclusive_group()
    token.add_argument("--token-file", help="file holding the cluster's node token (`flmctl cluster token`)")
    token.add_argument("--token", help="the node token itself (prefer --token-file)")
    join.add_argument("--name", default=socket.gethostname(), help="node name (default: this host's name)")
    join.add_argument("--work-dir", default=DEFAULT_WORK_DIR,
                      help=f"service sockets and logs (default {DEFAULT_WORK_DIR})")  # fmt: skip
    join.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    join.add_argument(
        "--advertise-address", metavar="ADDR", help="how other nodes reach this one (multi-rank MASTER_ADDR)"
    )
    join.set_defaults(handler=_join)


def _join(ctx: CliContext) -> int:
    a = ctx.args
    endpoint = getattr(a, "endpoint", None)
    if not endpoint:
        ctx.err.print("error: flmctl node join needs --endpoint URL (the cluster's session manager)")
        return 2
    parse_endpoint(endpoint)
    env = dict(os.environ)
    args = [sys.executable, "-m", "executor", "--endpoint", endpoint, "--name", a.name,
            "--work-dir", os.path.expanduser(a.work_dir), "--log-level", a.log_level]  # fmt: skip
    if a.advertise_address:
        args += ["--advertise-address", a.advertise_address]
    if a.token_file:
        read_token_file(a.token_file)  # a missing or empty file fails here, naming it
        args += ["--token-file", os.path.expanduser(a.token_file)]
    elif a.token:
        env[NODE_TOKEN_ENV] = a.token
    ctx.err.print(f"Joining {endpoint} as node {a.name} (Ctrl-C to leave) …")
    child = subprocess.Popen(args, env=env)
    try:
        return child.wait()
    except KeyboardInterrupt:  # pass it on (a terminal's Ctrl-C reached both: once more is harmless)
        child.send_signal(signal.SIGINT)
        return child.wait()
