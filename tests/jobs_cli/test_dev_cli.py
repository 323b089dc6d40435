"""``flmctl dev``: a warm session with a synced copy; only changed files travel; --status, --stop."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path

import pytest

from tests.jobs_cli.conftest import Flmctl
from tests.support import wait_until

pytestmark = pytest.mark.e2e

SHOW = "cat msg.txt; ls"


def _state(flmctl: Flmctl, proj: Path) -> dict[str, object]:
    from flamepy.jobs.dev import STATE_DIR_ENV, state_path

    old = os.environ.get(STATE_DIR_ENV)
    os.environ[STATE_DIR_ENV] = flmctl.dev_state_dir
    try:
        path = state_path(proj)
    finally:
        if old is None:
            del os.environ[STATE_DIR_ENV]
        else:
            os.environ[STATE_DIR_ENV] = old
    assert path.stat().st_mode & 0o077 == 0  # owner-only
    doc: dict[str, object] = json.loads(path.read_text())
    return doc


def test_dev_loop_syncs_only_changes_and_runs_in_the_copy(flmctl: Flmctl, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "msg.txt").write_text("first\n")
    (proj / "keep.txt").write_text("kept\n")
    (proj / "gone.txt").write_text("to delete\n")

    first = flmctl("dev", "-c", SHOW, cwd=proj)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == ["first", "gone.txt", "keep.txt", "msg.txt"]
    assert re.search(r"opened dev session dev-[0-9a-f]{8}; synced 3 file\(s\)", first.stderr), first.stderr
    session = _state(flmctl, proj)["session_id"]

    (proj / "msg.txt").write_text("second edit\n")
    (proj / "gone.txt").unlink()
    second = flmctl("dev", "-c", SHOW, cwd=proj)
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines() == ["second edit", "keep.txt", "msg.txt"]  # the edit, no gone.txt
    assert "synced 1 file(s), deleted 1" in second.stderr, second.stderr  # only the changed file went
    state = _state(flmctl, proj)
    assert (state["session_id"], state["last_sent"], state["last_deleted"]) == (session, 1, 1)
    assert len(state["deltas"]) == 1  # type: ignore[arg-type]

    started = time.monotonic()
    third = flmctl("dev", "-c", "exit 7", cwd=proj)
    took = time.monotonic() - started
    assert third.returncode == 7, third.stderr
    assert "synced" not in third.stderr  # nothing changed: nothing sent
    assert len(_state(flmctl, proj)["deltas"]) == 1  # type: ignore[arg-type]
    print(f"flmctl dev -c 'exit 7' with nothing changed: {took:.3f} s wall clock")

    status = flmctl("dev", "--status", "-o", "json", cwd=proj)
    assert status.returncode == 0, status.stderr
    info = json.loads(status.stdout)
    assert (info["session"], info["files"], info["commands"]) == (session, 2, 3)
    text = flmctl("dev", "--status", cwd=proj)
    assert f"session {session}" in text.stdout and "2 files synced" in text.stdout

    stop = flmctl("dev", "--stop", cwd=proj)
    assert stop.returncode == 0 and f"closed dev session {session}" in stop.stderr
    assert flmctl("dev", "--status", cwd=proj).returncode == 1
    again = flmctl("dev", "-c", "cat keep.txt", cwd=proj)  # a new session, a full upload
    assert again.returncode == 0 and again.stdout == "kept\n", again.stderr
    assert _state(flmctl, proj)["session_id"] != session
    assert flmctl("dev", "--stop", cwd=proj).returncode == 0


def test_dev_output_streams_while_the_command_runs(flmctl: Flmctl, tmp_path: Path) -> None:
    proj = tmp_path / "live"
    proj.mkdir()
    go = tmp_path / "go"
    script = f"print('ready'); import os, time\nwhile not os.path.exists({str(go)!r}): time.sleep(0.02)\nprint('done')"
    (proj / "wait.py").write_text(script)
    proc = flmctl.popen("dev", "-c", "python wait.py", cwd=proj)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
        reader.start()
        wait_until(lambda: "ready\n" in lines, timeout=60)  # printed before the command ended
        assert proc.poll() is None
        go.write_text("")
        assert proc.wait(timeout=60) == 0
        reader.join(10)
        assert lines == ["ready\n", "done\n"]
    finally:
        if proc.poll() is None:
            proc.kill()
        flmctl("dev", "--stop", cwd=proj)
