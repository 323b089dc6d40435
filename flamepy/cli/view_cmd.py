"""``flmctl view {application NAME|session ID|task SESSION TASK|node NAME}``."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Group
from rich.table import Table

from flamepy.cli import output
from flamepy.cli.context import CliContext
from flamepy.cli.output import SessionLike, enum_name, format_time
from flamepy.errors import NotFoundError
from flamepy.types import Application, Node, Task


def add_parser(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("view", parents=[common], help="show one object in detail")
    nouns = p.add_subparsers(dest="kind", metavar="KIND", required=True)

    def noun(name: str, aliases: list[str], help_: str, handler: Any) -> argparse.ArgumentParser:
        q = nouns.add_parser(name, aliases=aliases, parents=[common], help=help_)
        q.add_argument("-o", "--output", choices=("table", "json"), default="table")
        q.set_defaults(handler=handler)
        return q

    noun("application", ["app"], "an application", _application).add_argument("name")
    noun("session", ["ssn"], "a session", _session).add_argument("session_id", metavar="ID")
    task = noun("task", [], "a task of a session", _task)
    task.add_argument("session_id", metavar="SESSION")
    task.add_argument("task_id", metavar="TASK")
    noun("node", [], "a node", _node).add_argument("name")


def _emit(ctx: CliContext, json_value: Any, human: Any) -> int:
    if ctx.json_output:
        output.write_json(json_value, ctx.stdout)
    else:
        ctx.out.print(human)
    return 0


def _application(ctx: CliContext) -> int:
    with ctx.connect() as conn:
        app = conn.get_application(ctx.args.name)
    if app is None:
        raise NotFoundError(f"application {ctx.args.name!r} not found")
    return _emit(ctx, output.to_jsonable(app), application_view(app))


def _session(ctx: CliContext) -> int:
    with ctx.connect() as conn:
        session = conn.get_session(ctx.args.session_id)
    return _emit(ctx, output.session_to_json(session), session_view(session))


def _task(ctx: CliContext) -> int:
    with ctx.connect() as conn:
        task = conn.get_session(ctx.args.session_id).get_task(ctx.args.task_id)
    return _emit(ctx, output.to_jsonable(task), task_view(task))


def _node(ctx: CliContext) -> int:
    with ctx.connect() as conn:
        node = conn.get_node(ctx.args.name)
    return _emit(ctx, output.to_jsonable(node), node_view(node))


# -- human views -----------------------------------------------------------------------------


def application_view(app: Application) -> Table:
    a = app.attributes
    schema = a.schema
    envs = ", ".join(f"{k}={v}" for k, v in (a.environments or {}).items())
    return output.key_values(
        f"Application {app.name}",
        [
            ("Name", app.name),
            ("State", enum_name(app.state)),
            ("Created", format_time(app.creation_time)),
            ("Shim", enum_name(app.shim)),
            ("Description", a.description or "-"),
            ("Labels", ", ".join(a.labels or []) or "-"),
            ("Image", a.image or "-"),
            ("Command", a.command or "-"),
            ("Arguments", " ".join(a.arguments or []) or "-"),
            ("Environments", envs or "-"),
            ("Working directory", a.working_directory or "-"),
            ("Max instances", _opt(a.max_instances)),
            ("Delay release", "-" if a.delay_release is None else f"{a.delay_release}s"),
            ("Schema input", (schema.input if schema else None) or "-"),
            ("Schema output", (schema.output if schema else None) or "-"),
            ("Schema common data", (schema.common_data if schema else None) or "-"),
            ("URL", a.url or "-"),
            ("Installer", a.installer or "-"),
        ],
    )


def session_view(session: SessionLike) -> Group:
    a, st = session.attributes, session.status
    summary = output.key_values(
        f"Session {session.id}",
        [
            ("ID", session.id),
            ("Application", session.application),
            ("State", enum_name(st.state)),
            ("Created", format_time(st.creation_time)),
            ("Completed", format_time(st.completion_time)),
            ("Min instances", str(a.min_instances)),
            ("Max instances", _opt(a.max_instances)),
            ("Batch size", str(a.batch_size)),
            ("Priority", str(a.priority)),
            ("Resources", output.format_resources(a.resreq)),
            ("Common data", output.preview(a.common_data)),
            ("Tasks", _counters(session)),
        ],
    )
    return Group(summary, output.events_table(st.events)) if st.events else Group(summary)


def task_view(task: Task) -> Group:
    summary = output.key_values(
        f"Task {task.id} of session {task.session_id}",
        [
            ("ID", task.id),
            ("Session", task.session_id),
            ("State", enum_name(task.state)),
            ("Created", format_time(task.creation_time)),
            ("Completed", format_time(task.completion_time)),
            ("Duration", output.format_duration(task.creation_time, task.completion_time)),
            ("Input", output.preview(task.input)),
            ("Output", output.preview(task.output)),
            ("Message", task.message or "-"),
        ],
    )
    return Group(summary, output.events_table(task.events)) if task.events else Group(summary)


def node_view(node: Node) -> Table:
    return output.key_values(
        f"Node {node.name}",
        [
            ("Name", node.name),
            ("State", enum_name(node.state)),
            ("Hostname", node.hostname or "-"),
            ("Arch / OS", f"{node.arch or '-'} / {node.os or '-'}"),
            ("Capacity", output.format_resources(node.capacity)),
            ("Allocatable", output.format_resources(node.allocatable)),
            ("Last heartbeat", format_time(node.last_heartbeat_time)),
        ],
    )


def _opt(value: int | None) -> str:
    return "-" if value is None else str(value)


def _counters(session: SessionLike) -> str:
    st = session.status
    return (
        f"pending={st.pending} running={st.running} succeed={st.succeed} "
        f"failed={st.failed} cancelled={st.cancelled}"
    )
