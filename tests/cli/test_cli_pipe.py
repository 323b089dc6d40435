"""flmctl writing into a pipe whose reader went away (``flmctl ps -o json | head -1``) stops quietly:
no traceback, no "Exception ignored" at exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_closed_pipe_ends_flmctl_without_a_traceback() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "flamepy.cli.main", "completion", "bash"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before flmctl writes
    err = proc.stderr.read().decode()
    code = proc.wait(60)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert code == 1
