"""The flamepy 0.6.0 reference: a separate virtual environment holding ``flamepy==0.6.0`` from PyPI.

Shared by the conformance test (its public surface) and the end-to-end test of 0.6.0 services and
clients against our cluster (``tests/e2e/test_flame060.py``). The venv lives at ``.venv-flame060``
in the repository root (git-ignored), is created on first use and reused while it still holds
flamepy 0.6.0. Creation is serialised with a file lock, so parallel test processes install once.

``require_reference_python()`` is what tests call: without the reference (no network for pip, say)
it fails with the reason when ``CI`` is set, and skips with the reason otherwise.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_VENV = ROOT / ".venv-flame060"
REFERENCE_REQUIREMENT = "flamepy==0.6.0"
REFERENCE_VERSION = "0.6.0"
INSTALL_TIMEOUT_S = 900


class ReferenceUnavailable(RuntimeError):
    """The flamepy 0.6.0 venv could not be created; the message says why."""


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what would make a venv's python see our tree."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(extra)
    return env


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def has_reference(python: Path) -> bool:
    """True when ``python`` exists and its ``flamepy`` distribution is 0.6.0."""
    if not python.exists():
        return False
    probe = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('flamepy'))"],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd="/",
        check=False,
        timeout=120,
    )
    return probe.returncode == 0 and probe.stdout.strip() == REFERENCE_VERSION


def _create(venv: Path) -> None:
    python = venv_python(venv)
    made = subprocess.run(
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if made.returncode != 0:
        raise ReferenceUnavailable(f"python -m venv {venv} failed:\n{made.stdout}\n{made.stderr}")
    try:
        install = subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                REFERENCE_REQUIREMENT,
            ],
            capture_output=True,
            text=True,
            env=clean_env(),
            check=False,
            timeout=INSTALL_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        raise ReferenceUnavailable(
            f"pip install {REFERENCE_REQUIREMENT} did not finish within {INSTALL_TIMEOUT_S}s"
        ) from exc
    if install.returncode != 0:
        raise ReferenceUnavailable(
            f"pip install {REFERENCE_REQUIREMENT} failed (is PyPI reachable?):\n{install.stdout}\n{install.stderr}"
        )
    if not has_reference(python):
        raise ReferenceUnavailable(f"{venv} does not hold flamepy {REFERENCE_VERSION} after installing it")


def reference_python(venv: Path = REFERENCE_VENV) -> Path:
    """The interpreter of a venv holding flamepy 0.6.0, created from PyPI on first use.
    Raises :class:`ReferenceUnavailable` when it cannot be created."""
    python = venv_python(venv)
    if has_reference(python):
        return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:  # ignored by git, like the venv
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not has_reference(python):  # another process may have made it while we waited
            _create(venv)
    return python


def require_reference_python() -> Path:
    """:func:`reference_python` for tests: fails in CI (``CI`` set), skips elsewhere, with the reason."""
    try:
        return reference_python()
    except (ReferenceUnavailable, OSError, subprocess.SubprocessError) as exc:
        message = f"flamepy {REFERENCE_VERSION} reference venv at {REFERENCE_VENV} is unavailable: {exc}"
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
