"""A fake Frontend client (the unit layer of the flmctl tests) and an in-process CLI runner."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from flamepy.cli.main import main
from flamepy.errors import NotFoundError
from flamepy.types import (
    Application,
    ApplicationAttributes,
    ApplicationState,
    Event,
    Executor,
    ExecutorState,
    Node,
    NodeState,
    ResourceRequirement,
    SessionAttributes,
    SessionState,
    SessionStatus,
    Task,
    TaskState,
)

T0 = 1_732_530_000_000  # ms since the epoch


@dataclass
class FakeSession:
    id: str
    application: str
    attributes: SessionAttributes
    status: SessionStatus
    tasks: list[Task] = field(default_factory=list)

    def list_tasks(self) -> Iterator[Task]:
        return iter(self.tasks)

    def get_task(self, task_id: str) -> Task:
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise NotFoundError(f"task {task_id!r} of session {self.id!r} not found")


class FakeFrontend:
    """The FrontendClient protocol over plain dicts; records mutations."""

    def __init__(self) -> None:
        self.applications = {
            "flmping": Application(
                "flmping",
                ApplicationAttributes(command="/usr/bin/python3", arguments=["-m", "ping"]),
                ApplicationState.ENABLED,
                T0,
            )
        }
        tasks = [
            Task("1", "ssn-1", TaskState.SUCCEED, T0, b"in", b"out", T0 + 1500,
                 (Event(0, None, T0), Event(2, None, T0 + 1500))),
            Task("2", "ssn-1", TaskState.FAILED, T0, b"\xff\x00", None, T0 + 20,
                 (Event(0, None, T0), Event(3, "ValueError: boom", T0 + 20))),
        ]  # fmt: skip
        self.sessions = {
            "ssn-1": FakeSession(
                "ssn-1",
                "flmping",
                SessionAttributes("flmping", "ssn-1", common_data=b"common"),
                SessionStatus(SessionState.OPEN, T0, None, 0, 0, 1, 1, 0),
                tasks,
            )
        }
        self.executors = [Executor("e-1", "node-a", ExecutorState.BOUND, "ssn-1")]
        self.nodes = [
            Node("node-a", NodeState.READY, ResourceRequirement(2, 4 << 30, 0),
                 ResourceRequirement(1, 3 << 30, 0), "x86_64", "linux", "host-a", T0),
        ]  # fmt: skip
        self.closed: list[str] = []
        self.registered: dict[str, ApplicationAttributes] = {}

    def list_applications(self) -> list[Application]:
        return list(self.applications.values())

    def get_application(self, name: str) -> Application | None:
        return self.applications.get(name)

    def register_application(self, name: str, attributes: ApplicationAttributes) -> None:
        self.registered[name] = attributes

    def unregister_application(self, name: str) -> None:
        if name not in self.applications:
            raise NotFoundError(f"application {name!r} not found")
        del self.applications[name]

    def list_sessions(self) -> list[FakeSession]:
        return list(self.sessions.values())

    def get_session(self, session_id: str) -> FakeSession:
        try:
            return self.sessions[session_id]
        except KeyError:
            raise NotFoundError(f"session {session_id!r} not found") from None

    def close_session(self, session_id: str) -> FakeSession:
        self.closed.append(session_id)
        return self.get_session(session_id)

    def list_executors(self) -> list[Executor]:
        return self.executors

    def list_nodes(self) -> list[Node]:
        return self.nodes

    def get_node(self, name: str) -> Node:
        for node in self.nodes:
            if node.name == name:
                return node
        raise NotFoundError(f"node {name!r} not found")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


class CliRunner:
    def __init__(self, frontend: FakeFrontend) -> None:
        self.frontend = frontend
        self.endpoints: list[str] = []

    def _connect(self, endpoint: str) -> AbstractContextManager[Any]:
        self.endpoints.append(endpoint)
        return nullcontext(self.frontend)

    def __call__(self, *argv: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), connector=self._connect, stdout=out, stderr=err)
        return Result(code, out.getvalue(), err.getvalue())
