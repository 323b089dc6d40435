"""What every flmctl command gets: where to connect, how, and where to write."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from rich.console import Console

from flamepy.cli.output import SessionLike
from flamepy.config import load_context
from flamepy.types import Application, ApplicationAttributes, Executor, Node, Task


class SessionClient(SessionLike, Protocol):
    def list_tasks(self) -> Iterator[Task]: ...
    def get_task(self, task_id: str) -> Task: ...


class FrontendClient(Protocol):
    """The part of ``flamepy.Connection`` that flmctl uses."""

    def list_applications(self) -> list[Application]: ...
    def get_application(self, name: str) -> Application | None: ...
    def register_application(self, name: str, attributes: ApplicationAttributes) -> Any: ...
    def unregister_application(self, name: str) -> Any: ...
    def list_sessions(self) -> list[Any]: ...
    def get_session(self, session_id: str) -> Any: ...
    def close_session(self, session_id: str) -> Any: ...
    def list_executors(self) -> list[Executor]: ...
    def list_nodes(self) -> list[Node]: ...
    def get_node(self, name: str) -> Node: ...


PIPE_WIDTH = 200


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


Connector = Callable[[str], AbstractContextManager[FrontendClient]]


def default_connector(endpoint: str) -> AbstractContextManager[FrontendClient]:
    import flamepy  # lazily: grpc is slow to import and `flmctl --help` does not need it

    conn: AbstractContextManager[FrontendClient] = flamepy.Connection(endpoint)
    return conn


@dataclass
class CliContext:
    args: argparse.Namespace
    stdout: IO[str]
    stderr: IO[str]
    connector: Connector = default_connector
    out: Console = field(init=False)
    err: Console = field(init=False)

    def __post_init__(self) -> None:
        # piped output (scripts, grep, tests) gets wide tables instead of folded 80-column ones
        width = None if _isatty(self.stdout) else PIPE_WIDTH
        self.out = Console(file=self.stdout, highlight=False, soft_wrap=False, width=width)
        self.err = Console(file=self.stderr, highlight=False)

    @property
    def endpoint(self) -> str:
        explicit: str | None = getattr(self.args, "endpoint", None)
        return explicit or load_context().endpoint

    @property
    def json_output(self) -> bool:
        return getattr(self.args, "output", "table") == "json"

    def connect(self) -> AbstractContextManager[FrontendClient]:
        return self.connector(self.endpoint)
