"""Helpers of the reliability tests: extra executor managers (distinct node names) that a test
starts, freezes (SIGSTOP), kills and ends itself — only processes it started, by pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import flamepy
from flamepy.cluster import LocalCluster
from flamepy.types import NodeState
from tests.e2e.conftest import HERE, app_attrs
from tests.support import wait_until

SERVICE = HERE / "reliability_service.py"


class Node:
    """One executor manager process under a node name of its own."""

    def __init__(self, cluster: LocalCluster, name: str, grpc_only: bool = False, cpus: int = 1) -> None:
        self.name = name
        self._args = [
            sys.executable, "-m", "executor",
            "--endpoint", cluster.endpoint,
            "--name", name,
            "--work-dir", str(cluster.data_dir / f"work-{name}"),
            *(["--no-local-pipe"] if grpc_only else []),
        ]  # fmt: skip
        self._env = {**os.environ, "FLAME_NODE_CPUS": str(cpus)}
        if cluster.node_token:  # joins as a node of another host would: with the node token
            self._env["FLAME_NODE_TOKEN"] = cluster.node_token
        self._log = cluster.logs_dir / f"executor-manager-{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Node:
        with open(self._log, "ab") as log:
            self.proc = subprocess.Popen(self._args, stdout=log, stderr=subprocess.STDOUT, env=self._env)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        """SIGCONT (it may be frozen), then SIGTERM, then SIGKILL after 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGCONT)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def node_state(conn: flamepy.Connection, name: str) -> NodeState | None:
    return next((n.state for n in conn.list_nodes() if n.name == name), None)


def wait_ready(conn: flamepy.Connection, *names: str, timeout: float = 30.0) -> None:
    wait_until(lambda: all(node_state(conn, n) == NodeState.READY for n in names), timeout=timeout)


def register(conn: flamepy.Connection, name: str = "reliable") -> None:
    conn.register_application(name, app_attrs(SERVICE))


def counts(conn: flamepy.Connection, sid: str) -> Any:
    """The session's task counts (``.succeed``, ``.running`` ...), whichever way the SDK offers them."""
    ssn = conn.get_session(sid)
    return getattr(ssn, "status", ssn)
