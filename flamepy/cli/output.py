"""Turning our dataclasses into rich tables and into JSON for scripts.

JSON rules (stable, for scripts): enums are their wire names (``"Ready"``, ``"Succeed"``,
``"NotReady"``); timestamps stay integers in milliseconds since the epoch; bytes are a string when
they are valid UTF-8 and ``{"base64": "..."}`` otherwise; ``None`` is ``null``.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import enum
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any, Protocol

from rich.console import Console
from rich.table import Table

from flamepy.types import (
    Application,
    Event,
    EventCode,
    Executor,
    Node,
    ResourceRequirement,
    SessionAttributes,
    SessionStatus,
    Task,
    format_memory,
)

PREVIEW_CHARS = 60


class SessionLike(Protocol):
    """What the CLI reads from an SDK ``Session``."""

    @property
    def id(self) -> str: ...
    @property
    def application(self) -> str: ...
    @property
    def attributes(self) -> SessionAttributes: ...
    @property
    def status(self) -> SessionStatus: ...


# -- JSON ------------------------------------------------------------------------------------


def enum_name(value: enum.Enum) -> str:
    """``NodeState.NOT_READY`` → ``"NotReady"`` (the flame.v1 spelling)."""
    return "".join(part.capitalize() for part in value.name.split("_"))


def to_jsonable(value: Any) -> Any:
    """Our dataclasses (recursively) → plain JSON values, following the module's rules."""
    if isinstance(value, enum.Enum):
        return enum_name(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes_to_json(bytes(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def bytes_to_json(data: bytes) -> str | dict[str, str]:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(data).decode("ascii")}


def session_to_json(session: SessionLike) -> dict[str, Any]:
    return {
        "id": session.id,
        "application": session.application,
        "attributes": to_jsonable(session.attributes),
        "status": to_jsonable(session.status),
    }


def event_code_name(code: int) -> str:
    try:
        return enum_name(EventCode(code))
    except ValueError:
        return str(code)


def write_json(value: Any, out: IO[str]) -> None:
    out.write(json.dumps(value, indent=2, sort_keys=False) + "\n")


# -- human formatting ------------------------------------------------------------------------


def format_time(ms: int | None) -> str:
    """Milliseconds since the epoch → local ``YYYY-MM-DD HH:MM:SS`` ("-" when unset)."""
    if not ms:
        return "-"
    stamp = datetime.datetime.fromtimestamp(ms / 1000).astimezone()
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


def format_duration(start_ms: int | None, end_ms: int | None) -> str:
    if not start_ms or not end_ms or end_ms < start_ms:
        return "-"
    seconds = (end_ms - start_ms) / 1000
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def human_bytes(num: int) -> str:
    """Exact units when they fit (``4g``), else one decimal in binary units (``23.5Gi``)."""
    exact = format_memory(num)
    if exact[-1:] in ("g", "m") or num < 1024**2:
        return exact
    for unit, size in (("Ti", 1024**4), ("Gi", 1024**3), ("Mi", 1024**2)):
        if num >= size:
            return f"{num / size:.1f}{unit}"
    return exact


def format_resources(r: ResourceRequirement | None) -> str:
    if r is None:
        return "-"
    return f"cpu={r.cpu} mem={human_bytes(r.memory)} gpu={r.gpu}"


def preview(data: bytes | None, limit: int = PREVIEW_CHARS) -> str:
    """A short, printable view of a payload."""
    if data is None:
        return "-"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(data)} bytes, binary>"
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else f"{text[:limit]}… ({len(data)} bytes)"


def make_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[str]]) -> Table:
    table = Table(title=title, show_lines=False, header_style="bold")
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def key_values(title: str, pairs: Sequence[tuple[str, str]]) -> Table:
    table = Table(title=title, show_header=False, box=None, pad_edge=False)
    table.add_column("key", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in pairs:
        table.add_row(key, value)
    return table


def events_table(events: Sequence[Event]) -> Table:
    return make_table(
        "Events",
        ["TIME", "CODE", "MESSAGE"],
        [(format_time(e.creation_time), event_code_name(e.code), e.message or "") for e in events],
    )


# -- rows per noun ---------------------------------------------------------------------------

APPLICATION_COLUMNS = ("NAME", "STATE", "SHIM", "COMMAND", "CREATED")
SESSION_COLUMNS = (
    "ID", "APPLICATION", "STATE", "CREATED", "PENDING", "RUNNING", "SUCCEED", "FAILED", "CANCELLED",
)  # fmt: skip
TASK_COLUMNS = ("ID", "SESSION", "STATE", "CREATED", "DURATION", "MESSAGE")
EXECUTOR_COLUMNS = ("ID", "NODE", "STATE", "SESSION", "RESOURCES", "SHIM")
NODE_COLUMNS = ("NAME", "STATE", "CPU", "MEMORY", "GPU", "ARCH", "OS", "HEARTBEAT")


def application_row(app: Application) -> list[str]:
    command = " ".join([app.command or "", *app.arguments]).strip() or "-"
    return [
        app.name,
        enum_name(app.state),
        enum_name(app.shim),
        command,
        format_time(app.creation_time),
    ]


def session_row(s: SessionLike) -> list[str]:
    st = s.status
    return [
        s.id,
        s.application,
        enum_name(st.state),
        format_time(st.creation_time),
        *(str(n) for n in (st.pending, st.running, st.succeed, st.failed, st.cancelled)),
    ]


def task_row(t: Task) -> list[str]:
    return [
        t.id,
        t.session_id,
        enum_name(t.state),
        format_time(t.creation_time),
        format_duration(t.creation_time, t.completion_time),
        t.message or "",
    ]


def executor_row(e: Executor) -> list[str]:
    return [
        e.id,
        e.node,
        enum_name(e.state),
        e.session_id or "-",
        format_resources(e.resreq),
        enum_name(e.shim),
    ]


def node_row(n: Node) -> list[str]:
    alloc, cap = n.allocatable, n.capacity
    return [
        n.name,
        enum_name(n.state),
        f"{alloc.cpu}/{cap.cpu}",
        f"{human_bytes(alloc.memory)}/{human_bytes(cap.memory)}",
        f"{alloc.gpu}/{cap.gpu}",
        n.arch or "-",
        n.os or "-",
        format_time(n.last_heartbeat_time),
    ]


def print_table(console: Console, title: str, columns: Sequence[str], rows: list[list[str]]) -> None:
    if not rows:
        console.print(f"No {title.lower()}.")
        return
    console.print(make_table(None, columns, rows))
