"""``flmctl cluster {up|down|status|token}``: a local cluster as detached background processes."""

from __future__ import annotations

import argparse
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from flamepy.cli import output
from flamepy.cli.context import CliContext, FrontendClient
from flamepy.cluster import ClusterState, LocalCluster, read_state, stop_recorded
from flamepy.cluster.auth import ClusterAuth
from flamepy.cluster.listen import LOOPBACK_HOST, plan_listen
from flamepy.common.credentials import AUTH_MODES, AUTH_TOKEN, read_token_file
from flamepy.errors import FlameError, InvalidArgumentError, InvalidConfigError, InvalidStateError

DEFAULT_DATA_DIR = "~/.flame/local"


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("cluster", parents=[common], help="start/stop a local cluster")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, help_: str, handler: Any) -> argparse.ArgumentParser:
        q = actions.add_parser(name, parents=[common], help=help_)
        q.add_argument("--data-dir", default=DEFAULT_DATA_DIR,
                       help=f"cluster state, logs and database (default {DEFAULT_DATA_DIR})")  # fmt: skip
        q.set_defaults(handler=handler)
        return q

    up = action(
        "up", "start an object cache, a session manager and an executor manager in the background", _up
    )
    up.add_argument("--port", type=int, default=8080, help="Frontend port (0: any free port)")
    up.add_argument("--cache-port", type=int, help="object cache port (default 9090; 0 with --port 0)")
    up.add_argument("--node", help="node name (default: this host's name)")
    up.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    up.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for readiness")
    up.add_argument("--tls", action="store_true",
                    help="serve TLS with a certificate from a CA made for this cluster (https:// "
                    "endpoints; clients trust <data-dir>/tls/ca.pem through FLAME_CA_FILE)")  # fmt: skip
    up.add_argument("--host", default=LOOPBACK_HOST, metavar="ADDR",
                    help="address the session manager and the object cache listen on (default "
                    "127.0.0.1; 0.0.0.0: all interfaces); off loopback it needs --tls")  # fmt: skip
    up.add_argument("--advertise-host", metavar="NAME",
                    help="host name or address other nodes and services use (default: this host's "
                    "address with a wildcard --host, else --host)")  # fmt: skip
    up.add_argument("--allow-plaintext", action="store_true",
                    help="allow a non-loopback --host without --tls: tokens and data then cross the "
                    "network in clear text")  # fmt: skip
    up.add_argument("-o", "--output", choices=("table", "json"), default="table")
    up.add_argument(
        "--auth",
        choices=AUTH_MODES,
        default=AUTH_TOKEN,
        help="token (default): clients and nodes need the cluster's tokens; none: anyone who reaches "
        "its ports may submit code (independent Flame clients; docs/security.md)",
    )
    action("down", "stop the local cluster", _down)
    token = action("token", "print the node join token and the command that joins a node", _token)
    token.add_argument("-o", "--output", choices=("table", "json"), default="table")
    status = action("status", "show the local cluster (exit code 1 when it is not running)", _status)
    status.add_argument("-o", "--output", choices=("table", "json"), default="table")


def _data_dir(ctx: CliContext) -> Path:
    return Path(ctx.args.data_dir).expanduser().resolve()


def _running(state: ClusterState | None) -> bool:
    return state is not None and all(p.is_alive() for p in state.processes)


def _up(ctx: CliContext) -> int:
    a = ctx.args
    try:  # decided before anything is stopped, started or bound
        plan_listen(a.host, a.advertise_host, a.tls, a.allow_plaintext)
    except InvalidArgumentError as exc:
        ctx.err.print(f"error: {exc.message}", markup=False, soft_wrap=True)
        return 2
    data_dir = _data_dir(ctx)
    state = read_state(data_dir)
    if _running(state):
        assert state is not None
        return _report_up(ctx, state, already=True)
    if state is not None:  # half dead: clear what is left before starting afresh
        stop_recorded(data_dir)
    cluster = LocalCluster(
        data_dir,
        port=ctx.args.port,
        node_name=ctx.args.node,
        log_level=ctx.args.log_level,
        start_timeout=ctx.args.timeout,
        cache_port=ctx.args.cache_port,
        auth=ctx.args.auth,
        tls=ctx.args.tls,
        host=a.host,
        advertise_host=a.advertise_host,
        allow_plaintext=a.allow_plaintext,
    )
    with ctx.err.status(f"Starting local Flame cluster in {data_dir} …"):
        cluster.start()  # the daemons live on after this process exits
    new_state = read_state(data_dir)
    assert new_state is not None
    return _report_up(ctx, new_state, already=False)


def _report_up(ctx: CliContext, state: ClusterState, already: bool) -> int:
    if ctx.json_output:
        output.write_json({**state.to_json(), "already_running": already}, ctx.stdout)
        return 0
    verb = "is already running" if already else "is up"
    ctx.out.print(f"[green]✓[/] Local Flame cluster {verb} at [bold]{state.endpoint}[/]")
    ctx.out.print(f"  node {state.node}, data and logs in {state.data_dir}")
    if state.cache_endpoint:
        ctx.out.print(f"  object cache at [bold]{state.cache_endpoint}[/]")
    if state.advertised_endpoint and state.advertised_endpoint != state.endpoint:
        ctx.out.print(f"  other hosts reach it at [bold]{state.advertised_endpoint}[/]")
    _report_auth(ctx, state)
    ctx.out.print("  Use it:")
    ctx.out.print(f"    export FLAME_ENDPOINT={state.endpoint}")
    if state.cache_endpoint:
        ctx.out.print(f"    export FLAME_CACHE_ENDPOINT={state.cache_endpoint}")
    if state.ca_file:
        ctx.out.print(f"    export FLAME_CA_FILE={state.ca_file}")
    ctx.out.print("    flmctl list nodes")
    ctx.out.print("    python -c 'import flamepy; print(flamepy.create_session(\"flmping\").id)'")
    dd = (
        ""
        if Path(state.data_dir) == Path(DEFAULT_DATA_DIR).expanduser().resolve()
        else (f" --data-dir {state.data_dir}")
    )
    ctx.out.print(f"  Stop it: flmctl cluster down{dd}")
    return 0


def _token(ctx: CliContext) -> int:
    data_dir = _data_dir(ctx)
    auth = ClusterAuth.of(AUTH_TOKEN, data_dir)
    try:
        token = read_token_file(auth.node_token_file)
    except InvalidConfigError:
        raise InvalidStateError(
            f"no node token in {auth.auth_dir}: start the cluster with `flmctl cluster up` "
            "(token auth, the default) first"
        ) from None
    state = read_state(data_dir)
    endpoint = (state.advertised_endpoint or state.endpoint) if state is not None else "http://HOST:8080"
    ca_file = state.ca_file if state is not None else None
    command = f"flmctl node join --endpoint {endpoint} --token-file {auth.node_token_file}"
    if ctx.json_output:
        output.write_json({"token": token, "token_file": str(auth.node_token_file), "endpoint": endpoint,
                           "ca_file": ca_file, "command": command}, ctx.stdout)  # fmt: skip
        return 0
    ctx.out.print(token, markup=False)
    ctx.err.print("Node join token of this cluster (keep it secret: it lets a machine run its tasks).")
    ctx.err.print("Join a node (on another host: copy the token into a 0600 file there and name that")
    ctx.err.print("file in --token-file; the cluster must listen on a reachable --host):")
    if ca_file:
        copy = f"  copy the CA certificate {ca_file} to the node (scp), then there:"
        ctx.err.print(copy, markup=False, soft_wrap=True)
        ctx.err.print("  export FLAME_CA_FILE=<the copied ca.pem>", markup=False)
    ctx.err.print(f"  {command}", markup=False, soft_wrap=True)
    return 0


def _report_auth(ctx: CliContext, state: ClusterState) -> None:
    if state.auth != AUTH_TOKEN:
        ctx.out.print("  [yellow]no auth[/]: anyone who can reach these ports may run code as you")
        return
    token_file = ClusterAuth.of(AUTH_TOKEN, Path(state.data_dir)).client_token_file
    ctx.out.print("  token auth: flamepy and flmctl of this user find the token in ~/.flame/credentials/;")
    ctx.out.print(f"  elsewhere set FLAME_TOKEN_FILE={token_file}", markup=False)


def _down(ctx: CliContext) -> int:
    data_dir = _data_dir(ctx)
    with ctx.err.status(f"Stopping local Flame cluster in {data_dir} …"):
        state = stop_recorded(data_dir)
    if state is None:
        ctx.out.print(f"No local Flame cluster recorded in {data_dir}; nothing to stop.")
    else:
        ctx.out.print(f"[green]✓[/] Local Flame cluster at {state.endpoint} stopped.")
    return 0


def _status(ctx: CliContext) -> int:
    data_dir = _data_dir(ctx)
    state = read_state(data_dir)
    running = _running(state)
    nodes = _node_summary(ctx, state) if running and state else None
    if ctx.json_output:
        doc: dict[str, Any] = {"running": running, "data_dir": str(data_dir)}
        if state is not None:
            doc.update(state.to_json())
            doc["processes"] = {p.name: p.is_alive() for p in state.processes}
        doc["nodes"] = nodes
        output.write_json(doc, ctx.stdout)
        return 0 if running else 1
    if state is None:
        ctx.out.print(f"No local Flame cluster in {data_dir}.")
        return 1
    rows = [
        ("Status", "[green]running[/]" if running else "[red]not running[/]"),
        ("Endpoint", state.endpoint),
        ("Object cache", state.cache_endpoint or "none"),
        ("Advertised", f"{state.advertised_endpoint or state.endpoint} (to other hosts and services)"),
        ("Auth", "tokens (docs/security.md)" if state.auth == AUTH_TOKEN else "[yellow]none[/]"),
        ("Data dir", state.data_dir),
        ("Node", state.node),
        ("Up since", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(state.started_at))),
    ]
    for p in state.processes:
        alive = "alive" if p.is_alive() else "exited"
        rows.append((p.name.capitalize(), f"pid {p.pid} ({alive}), log {p.log_file}"))
    if nodes is not None:
        rows.append(("Nodes", ", ".join(f"{n['name']} ({n['state']})" for n in nodes) or "none"))
    ctx.out.print(output.key_values("Local Flame cluster", rows))
    return 0 if running else 1


def _connect(ctx: CliContext, state: ClusterState) -> AbstractContextManager[FrontendClient]:
    """The cluster's Frontend; a TLS cluster's own CA is trusted (FLAME_CA_FILE need not be set)."""
    if state.ca_file is None:
        return ctx.connector(state.endpoint)
    import flamepy  # lazily: grpc is slow to import

    conn: AbstractContextManager[FrontendClient] = flamepy.Connection(state.endpoint, state.ca_file)
    return conn


def _node_summary(ctx: CliContext, state: ClusterState) -> list[dict[str, Any]] | None:
    try:
        with _connect(ctx, state) as conn:
            return [{"name": n.name, "state": output.enum_name(n.state)} for n in conn.list_nodes()]
    except FlameError:
        return None
