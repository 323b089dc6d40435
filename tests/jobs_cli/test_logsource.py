"""The log adapter: it hands over to ``flamepy.joblogs.iter_log_records`` when the client has it,
and falls back to a finished task's outcome when the server lacks the log service."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from flamepy.apps.jobresult import JobResult
from flamepy.errors import NotFoundError, UnavailableError
from flamepy.jobs import logsource
from flamepy.types import Task, TaskState


class _Unimplemented(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNIMPLEMENTED

    def details(self) -> str:
        return "Method not found"


class _Session:
    def __init__(self, task: Task) -> None:
        self.task = task

    def get_task(self, task_id: str) -> Task:
        assert task_id == self.task.id
        return self.task


class _Conn:
    """What the adapter touches: ``read_task_log`` (presence only) and ``get_session``."""

    def __init__(self, task: Task) -> None:
        self.session = _Session(task)

    def read_task_log(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("the adapter leaves the reading to flamepy.joblogs")

    def get_session(self, session_id: str) -> _Session:
        return self.session


def _install(monkeypatch: pytest.MonkeyPatch, reader: Any) -> None:
    module = types.ModuleType("flamepy.joblogs")
    module.iter_log_records = reader  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "flamepy.joblogs", module)


def _finished(tmp_path: Path) -> Task:
    log = tmp_path / "0.log"
    log.write_text('{"t":1,"s":"sys","l":"go","e":"start"}\n{"t":2,"s":"out","l":"from the file"}\n')
    output = JobResult(0, "Completed", str(log), "from the tail\n").to_json()
    return Task("1", "job-1", TaskState.SUCCEED, output=output)


def test_the_live_reader_gets_the_promised_arguments(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[tuple[Any, ...]] = []

    def reader(conn: Any, session_id: str, task_id: str, follow: bool = False, poll: float = 0.25,
               deadline: float | None = None) -> Iterator[dict[str, Any]]:  # fmt: skip
        calls.append((session_id, task_id, follow, deadline))
        yield {"t": 5, "s": "out", "l": "live"}

    _install(monkeypatch, reader)
    conn = _Conn(_finished(tmp_path))
    assert logsource.live_logs_supported(conn)  # type: ignore[arg-type]
    got = list(logsource.task_records(conn, "job-1", "1", follow=True, deadline=9.5))  # type: ignore[arg-type]
    assert got == [{"t": 5, "s": "out", "l": "live"}] and calls == [("job-1", "1", True, 9.5)]


def test_an_old_server_falls_back_to_the_outcome(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def reader(*args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        raise UnavailableError("no log service") from _Unimplemented()
        yield {}

    _install(monkeypatch, reader)
    got = list(logsource.task_records(_Conn(_finished(tmp_path)), "job-1", "1"))  # type: ignore[arg-type]
    assert [r["l"] for r in got] == ["go", "from the file"]


def test_without_the_module_records_come_from_the_file_or_the_tail(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "flamepy.joblogs", None)  # import fails
    task = _finished(tmp_path)
    assert [r["l"] for r in logsource.task_records(_Conn(task), "job-1", "1")] == ["go", "from the file"]  # type: ignore[arg-type]
    (tmp_path / "0.log").unlink()  # another machine's file: the tail the result carries
    assert [r["l"] for r in logsource.task_records(_Conn(task), "job-1", "1")] == ["from the tail"]  # type: ignore[arg-type]
    running = Task("1", "job-1", TaskState.RUNNING)
    with pytest.raises(logsource.LogsUnavailableError, match="live logs need a newer session manager"):
        list(logsource.task_records(_Conn(running), "job-1", "1"))  # type: ignore[arg-type]


def test_a_task_not_started_has_no_records_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    def reader(*args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        raise NotFoundError("task 1 has not run yet")
        yield {}

    _install(monkeypatch, reader)
    pending = _Conn(Task("1", "job-1", TaskState.PENDING))
    assert list(logsource.task_records(pending, "job-1", "1")) == []  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):  # following leaves the waiting to the reader; an error is real
        list(logsource.task_records(pending, "job-1", "1", follow=True))  # type: ignore[arg-type]
