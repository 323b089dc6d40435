"""The real command line: ``python -m executor`` in a subprocess against the fake session manager."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import psutil
import pytest
from executor_testkit import WAIT, bind_msg, fake_backend, task_msg

from executor.__main__ import parse_args


async def _start_cli(endpoint: str, work_dir: Path) -> asyncio.subprocess.Process:
    log = open(work_dir.parent / "manager.log", "wb")  # noqa: SIM115 - handed to the child
    with log:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "executor", "--endpoint", endpoint, "--name", "cli-node",
            "--work-dir", str(work_dir), "--log-level", "DEBUG", "--bind-timeout", "10",
            stdout=log, stderr=log,
        )  # fmt: skip


async def _bound_service_pid(backend, work_dir: Path) -> tuple[asyncio.subprocess.Process, int]:
    cli = await _start_cli(backend.endpoint, work_dir)
    stream, register = await backend.accept()
    assert register.node.metadata.name == "cli-node"
    stream.send(bind_msg("e1"))
    await stream.recv("executor_bound")
    stream.send(task_msg("e1", "t1", b"env"))
    result = (await stream.recv("task_result")).task_result
    assert result.return_code == 0
    children = psutil.Process(cli.pid).children()
    assert len(children) == 1
    return cli, children[0].pid


async def _wait_gone(pid: int) -> None:
    try:
        proc = psutil.Process(pid)
        await asyncio.get_running_loop().run_in_executor(None, proc.wait, WAIT)
    except psutil.NoSuchProcess:
        pass


async def test_sigterm_releases_everything_and_exits_0(tmp_path: Path) -> None:
    async with fake_backend() as backend:
        cli, service = await _bound_service_pid(backend, tmp_path / "work")
        cli.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(cli.wait(), WAIT) == 0
        assert not psutil.pid_exists(service)  # reaped by the manager before it exited


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
async def test_service_dies_with_a_sigkilled_manager(tmp_path: Path) -> None:
    async with fake_backend() as backend:
        cli, service = await _bound_service_pid(backend, tmp_path / "work")
        cli.kill()
        await cli.wait()
        await _wait_gone(service)
        assert not psutil.pid_exists(service) or psutil.Process(service).status() == psutil.STATUS_ZOMBIE


def test_parse_args() -> None:
    config = parse_args(["--endpoint", "http://127.0.0.1:8080", "--name", "n", "--work-dir", "w"])
    assert config.name == "n" and config.bind_timeout == 30.0 and config.work_dir.is_absolute()
    with pytest.raises(SystemExit):
        parse_args(["--endpoint", "ftp://x:1", "--work-dir", "w"])
