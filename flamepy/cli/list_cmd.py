"""``flmctl list {applications|sessions|tasks|executors|nodes}``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from flamepy.cli import output
from flamepy.cli.context import CliContext, FrontendClient
from flamepy.errors import InvalidArgumentError

# canonical noun → aliases
NOUNS: dict[str, tuple[str, ...]] = {
    "applications": ("application", "app", "apps"),
    "sessions": ("session", "ssn"),
    "tasks": ("task",),
    "executors": ("executor", "exe"),
    "nodes": ("node",),
}
ALIASES = {alias: noun for noun, aliases in NOUNS.items() for alias in (noun, *aliases)}


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "list",
        parents=[common],
        help="list applications, sessions, tasks, executors or nodes",
        description="List objects of the cluster.",
    )
    p.add_argument("kind", choices=sorted(ALIASES), metavar="KIND",
                   help="applications|app, sessions|ssn, tasks, executors, nodes")  # fmt: skip
    p.add_argument("-s", "--session", help="the session whose tasks to list (for tasks)")
    p.add_argument("-o", "--output", choices=("table", "json"), default="table")
    p.set_defaults(handler=run)


def run(ctx: CliContext) -> int:
    noun = ALIASES[ctx.args.kind]
    if noun == "tasks" and not ctx.args.session:
        raise InvalidArgumentError("listing tasks needs a session: flmctl list tasks -s SESSION")
    with ctx.connect() as conn:
        items, to_json, columns, to_row = _LISTERS[noun](conn, ctx.args)
    if ctx.json_output:
        output.write_json([to_json(item) for item in items], ctx.stdout)
    else:
        output.print_table(ctx.out, noun, columns, [to_row(item) for item in items])
    return 0


Lister = Callable[
    [FrontendClient, argparse.Namespace],
    tuple[list[Any], Callable[[Any], Any], tuple[str, ...], Callable[[Any], list[str]]],
]


def _applications(conn: FrontendClient, args: argparse.Namespace) -> Any:
    apps = sorted(conn.list_applications(), key=lambda a: a.name)
    return apps, output.to_jsonable, output.APPLICATION_COLUMNS, output.application_row


def _sessions(conn: FrontendClient, args: argparse.Namespace) -> Any:
    sessions = sorted(conn.list_sessions(), key=lambda s: (s.status.creation_time, s.id))
    return sessions, output.session_to_json, output.SESSION_COLUMNS, output.session_row


def _tasks(conn: FrontendClient, args: argparse.Namespace) -> Any:
    tasks = list(conn.get_session(args.session).list_tasks())
    return tasks, output.to_jsonable, output.TASK_COLUMNS, output.task_row


def _executors(conn: FrontendClient, args: argparse.Namespace) -> Any:
    executors = sorted(conn.list_executors(), key=lambda e: (e.node, e.id))
    return executors, output.to_jsonable, output.EXECUTOR_COLUMNS, output.executor_row


def _nodes(conn: FrontendClient, args: argparse.Namespace) -> Any:
    nodes = sorted(conn.list_nodes(), key=lambda n: n.name)
    return nodes, output.to_jsonable, output.NODE_COLUMNS, output.node_row


_LISTERS: dict[str, Lister] = {
    "applications": _applications,
    "sessions": _sessions,
    "tasks": _tasks,
    "executors": _executors,
    "nodes": _nodes,
}
