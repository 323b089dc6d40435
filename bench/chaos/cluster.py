"""The chaos bench's processes: a :class:`LocalCluster` (object cache, session manager, executor
manager of node ``chaos-a``) plus executor managers of our own on ``chaos-b``, ``chaos-c`` ...

Kills are ``SIGKILL`` by pid, only of processes started here or their descendants: the session
manager (restarted on the same port and data directory), an extra executor manager (restarted
with the same node name and work directory; node ``chaos-a`` is never killed, since LocalCluster
waits for it when it restarts the session manager) or a service process (a descendant of any
executor manager). Every descendant ever seen is remembered and killed at :meth:`stop` if it
outlived its parent. Concurrency model: synchronous, called from one thread at a time.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

import flamepy
from flamepy.cluster import LocalCluster
from flamepy.cluster.local import wait_until
from flamepy.cluster.processes import ProcessRecord, spawn, terminate

NODE_ENV = {"FLAME_NODE_CPUS": "2"}
READY_TIMEOUT_S = 60.0
KILL_WAIT_S = 10.0


class ChaosCluster:
    """One session manager and ``nodes`` (≥ 2) executor managers on loopback; a context manager."""

    def __init__(self, root: Path, nodes: int = 3, log_level: str = "WARNING") -> None:
        self.root = root
        self.log_level = log_level
        self.names = [f"chaos-{chr(ord('a') + i)}" for i in range(nodes)]
        self.local = LocalCluster(
            root / "cluster", port=0, node_name=self.names[0], executors_env=NODE_ENV, log_level=log_level
        )
        self._extra: dict[str, tuple[subprocess.Popen[bytes], ProcessRecord]] = {}
        self._seen: dict[int, psutil.Process] = {}

    def __enter__(self) -> ChaosCluster:
        self.local.start()
        try:
            for name in self.names[1:]:
                self._start_executor_manager(name)
            self.wait_nodes_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        return self.local.endpoint

    def wait_nodes_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        def ready() -> bool:
            try:
                with flamepy.Connection(self.endpoint) as conn:
                    up = {n.name for n in conn.list_nodes() if n.state == flamepy.NodeState.READY}
            except flamepy.FlameError:
                return False
            return up >= set(self.names)

        wait_until(ready, timeout, 0.2, f"nodes {', '.join(self.names)} to be Ready")

    # -- kills -----------------------------------------------------------------------------------

    def kill_session_manager(self) -> str:
        pid, start = self.local.session_manager_pid, time.monotonic()
        self.local.kill_session_manager(signal.SIGKILL)
        self.local.restart_session_manager()
        return f"session manager pid {pid}, restarted and Ready in {time.monotonic() - start:.1f} s"

    def kill_executor_manager(self, rng: random.Random) -> str:
        name = rng.choice(sorted(self._extra))
        popen, _ = self._extra.pop(name)
        self.remember_descendants()
        os.kill(popen.pid, signal.SIGKILL)
        popen.wait(timeout=KILL_WAIT_S)
        self._start_executor_manager(name)
        return f"executor manager {name} pid {popen.pid}, restarted"

    def kill_service(self, rng: random.Random) -> str | None:
        """SIGKILL one service process (a descendant of an executor manager); None: there is none."""
        services = sorted(self.remember_descendants(), key=lambda p: p.pid)
        if not services:
            return None
        victim = rng.choice(services)
        try:
            victim.kill()
        except psutil.NoSuchProcess:
            return None
        return f"service pid {victim.pid}"

    def remember_descendants(self) -> list[psutil.Process]:
        """The executor managers' live descendants now; each one is also remembered for stop()."""
        found: list[psutil.Process] = []
        for pid in self._manager_pids():
            try:
                found.extend(psutil.Process(pid).children(recursive=True))
            except psutil.Error:
                continue
        for proc in found:
            self._seen.setdefault(proc.pid, proc)
        return [p for p in found if _alive(p)]

    # -- lifecycle -------------------------------------------------------------------------------

    def stop(self) -> None:
        self.remember_descendants()
        terminate([record for _, record in self._extra.values()], grace_s=5.0)
        for popen, _ in self._extra.values():
            popen.poll()
        self._extra.clear()
        self.local.stop(grace_s=5.0)
        leftovers = [p for p in self._seen.values() if _alive(p)]
        for proc in leftovers:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(leftovers, timeout=KILL_WAIT_S)

    def _manager_pids(self) -> list[int]:
        pids = [popen.pid for popen, _ in self._extra.values()]
        with contextlib.suppress(flamepy.FlameError):
            pids.append(self.local.executor_manager_pid)
        return pids

    def _start_executor_manager(self, name: str) -> None:
        args = [
            sys.executable, "-m", "executor",
            "--endpoint", self.endpoint,
            "--name", name,
            "--work-dir", str(self.root / f"work-{name}"),
            "--log-level", self.log_level,
        ]  # fmt: skip
        log = self.root / "logs" / f"executor-manager-{name}.log"
        env = {**os.environ, **NODE_ENV}
        if self.local.node_token:  # the cluster's node token, as any joining node
            env["FLAME_NODE_TOKEN"] = self.local.node_token
        self._extra[name] = spawn(f"executor manager {name}", args, log, env)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
