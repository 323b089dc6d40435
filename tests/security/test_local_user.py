"""Another user on the same host (the ``nobody`` of the report) can neither read the cluster's
tokens or database nor submit work. Needs root and ``useradd``: the test makes a user of its own
and removes it afterwards."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from flamepy.cluster import LocalCluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RUN_AS = shutil.which("runuser") or shutil.which("setpriv")


@pytest.fixture
def stranger() -> Iterator[tuple[str, Path]]:
    if os.geteuid() != 0:
        pytest.skip("needs root to create a second local user")
    if shutil.which("useradd") is None or shutil.which("userdel") is None or RUN_AS is None:
        pytest.skip("needs useradd, userdel and runuser (or setpriv)")
    name = f"flmsec{secrets.token_hex(3)}"
    home = Path(tempfile.mkdtemp(prefix="flame-stranger-"))
    subprocess.run(["useradd", "-M", "-d", str(home), "-s", "/bin/false", name], check=True, timeout=30)
    try:
        shutil.chown(home, name)
        yield name, home
    finally:
        subprocess.run(["userdel", name], check=False, timeout=30)
        shutil.rmtree(home, ignore_errors=True)


def as_user(name: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    assert RUN_AS is not None
    if RUN_AS.endswith("runuser"):
        prefix = [RUN_AS, "-u", name, "--"]
    else:
        prefix = [RUN_AS, f"--reuid={name}", f"--regid={name}", "--clear-groups", "--"]
    return subprocess.run([*prefix, *args], env=env, capture_output=True, text=True, timeout=120)


def python_for(name: str, home: Path) -> tuple[str, dict[str, str]]:
    """An interpreter the other user may run, with this project and its packages importable: ours,
    or (when it lives where they may not go, e.g. under /root) the system's of the same version
    with our site-packages on the path."""
    site = [p for p in sys.path if p.endswith("site-packages")]
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "PYTHONPATH": os.pathsep.join([str(ROOT), *site])}
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for python in (sys.executable, shutil.which(version, path="/usr/bin:/usr/local/bin:/bin")):
        if python and as_user(name, env, python, "-c", "import grpc, flamepy").returncode == 0:
            return python, env
    pytest.skip(f"no {version} with grpc that user {name} may run")


def test_another_local_user_gets_nothing(cluster: LocalCluster, stranger: tuple[str, Path]) -> None:
    name, home = stranger
    python, env = python_for(name, home)
    probe = as_user(name, env, python, str(HERE / "rogue_user.py"), str(cluster.data_dir), cluster.endpoint)
    assert probe.returncode == 0, probe.stderr
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    assert result["client.token"] == "denied"
    assert result["node.token"] == "denied"
    assert result["flame.db"] == "denied"
    assert result["sm.sock"] == "denied"
    assert result["raw"] == "UNAUTHENTICATED"
    assert result["sdk"] == "AuthenticationError"
