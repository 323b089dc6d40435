"""Every way a bind can fail ends in bind_failed with a message that names the cause."""

from __future__ import annotations

import sys
from pathlib import Path

import psutil
from executor_testkit import RAW_SERVICE, bind_msg, fake_backend, running_manager, task_msg


async def _bind_failure(tmp_path: Path, msg, **overrides) -> str:
    async with fake_backend() as backend, running_manager(backend, tmp_path, **overrides) as manager:
        stream, _ = await backend.accept()
        stream.send(msg)
        stream.send(task_msg("e1", "t1", b"early"))  # pushed ahead of the bind answer
        answers = {}
        for _ in range(2):  # a fast failure may come before the task arrives: order varies
            msg = await stream.recv()
            answers[msg.WhichOneof("msg")] = getattr(msg, msg.WhichOneof("msg"))
        requeued = answers["task_result"]
        assert requeued.requeue and requeued.task_id == "t1" and requeued.return_code == -1
        failed = answers["bind_failed"]
        assert failed.executor_id == "e1"
        assert manager.session is not None and "e1" not in manager.session.executors
        return failed.message


async def test_command_not_found(tmp_path: Path) -> None:
    message = await _bind_failure(tmp_path, bind_msg("e1", None, command="/nonexistent/flame-svc"))
    assert "cannot start '/nonexistent/flame-svc'" in message


async def test_command_not_on_path(tmp_path: Path) -> None:
    message = await _bind_failure(tmp_path, bind_msg("e1", None, command="no-such-flame-command"))
    assert "command not found" in message and "no-such-flame-command" in message


async def test_no_command(tmp_path: Path) -> None:
    message = await _bind_failure(tmp_path, bind_msg("e1", None))
    assert "application 'raw-app' has no command" in message


async def test_exits_at_start(tmp_path: Path) -> None:
    message = await _bind_failure(tmp_path, bind_msg("e1", "exit_at_start"))
    assert "exited with code 3 before serving" in message
    assert "exiting at start on purpose" in message  # stderr tail


async def test_session_enter_fails(tmp_path: Path) -> None:
    message = await _bind_failure(tmp_path, bind_msg("e1", "fail_enter"))
    assert "OnSessionEnter returned code 1: refusing session" in message
    assert "refusing the session on purpose" in message


async def test_socket_never_appears(tmp_path: Path) -> None:
    message = await _bind_failure(tmp_path, bind_msg("e1", "no_socket"), bind_timeout=1.0)
    assert "did not serve unix://" in message and "within 1s" in message
    assert "raw service starting in mode no_socket" in message
    # the process that never bound was terminated
    for proc in psutil.Process().children(recursive=True):
        assert RAW_SERVICE not in " ".join(proc.cmdline()) or proc.status() == psutil.STATUS_ZOMBIE


async def test_missing_working_directory(tmp_path: Path) -> None:
    msg = bind_msg("e1", None, command=sys.executable, working_directory=str(tmp_path / "nope"))
    message = await _bind_failure(tmp_path, msg)
    assert "working directory" in message and "does not exist" in message


async def test_relative_argument_without_working_directory(tmp_path: Path) -> None:
    """No working_directory: the process runs in the executor's work directory, where
    ``service.py`` is not; the failure carries Python's complaint and says where it looked."""
    message = await _bind_failure(
        tmp_path, bind_msg("e1", None, command=sys.executable, arguments=["service.py"])
    )
    assert "exited with code 2 before serving" in message
    assert "can't open file" in message  # python's own stderr
    assert "has no working_directory" in message and repr(str(tmp_path)) in message
