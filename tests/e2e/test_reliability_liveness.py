"""Node liveness and requeued work, against real processes: a frozen executor manager (SIGSTOP), on
the local socket and on gRPC, is NotReady within the node timeout, its task finishes elsewhere,
and once thawed it registers afresh; a task requeued next to an idle bound executor runs at once."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

import flamepy
from flamepy.cluster import LocalCluster
from flamepy.types import NodeState, TaskState
from tests.e2e.reliability_kit import Node, node_state, register, wait_ready
from tests.support import wait_until

pytestmark = pytest.mark.e2e

NODE_TIMEOUT = 3.0
REQUEUED = 1003


def _finished(ssn: flamepy.Session, tid: str) -> flamepy.Task | None:
    task = ssn.get_task(tid)
    return task if task.state.is_terminal else None


def _node_of(task: flamepy.Task) -> str | None:
    """The node named by the task's last Running event, while it runs."""
    if task.state != TaskState.RUNNING:
        return None
    text = next((e.message or "" for e in reversed(task.events) if e.code == int(TaskState.RUNNING)), "")
    return text.split("(node ", 1)[1].split(")", 1)[0] if "(node " in text else None


@pytest.mark.parametrize("transport", ["local", "grpc"])
def test_a_frozen_executor_manager_is_not_ready_within_the_timeout(tmp_path: Path, transport: str) -> None:
    args = ["--node-timeout", str(NODE_TIMEOUT)]
    env = {"FLAME_NODE_CPUS": "1"}
    with LocalCluster(
        tmp_path / "c", port=0, node_name="n1", executors_env=env, session_manager_args=args
    ) as c:
        victim = Node(c, "victim", grpc_only=transport == "grpc").start()
        try:
            with flamepy.Connection(c.endpoint) as conn:
                wait_ready(conn, "n1", "victim")
                register(conn)
                ssn = conn.create_session(flamepy.SessionAttributes(application="reliable", min_instances=2))
                wait_until(lambda: len(conn.list_executors()) == 2, timeout=30)
                ids = [ssn.create_task(b"sleep:2").id for _ in range(2)]
                on_victim: str = wait_until(
                    lambda: next((i for i in ids if _node_of(ssn.get_task(i)) == "victim"), ""), timeout=30
                )
                os.kill(victim.pid, signal.SIGSTOP)
                frozen_at = time.monotonic()
                wait_until(
                    lambda: node_state(conn, "victim") == NodeState.NOT_READY, timeout=NODE_TIMEOUT + 5
                )
                assert time.monotonic() - frozen_at < NODE_TIMEOUT + 5
                task = wait_until(lambda: _finished(ssn, on_victim), timeout=30)
                assert task is not None
                assert task.state == TaskState.SUCCEED and task.output == b"sleep:2"
                requeued = [e.message or "" for e in task.events if e.code == REQUEUED]
                assert len(requeued) == 1 and "node victim lost (silent for" in requeued[0], task.events
                assert _node_of(task) is None and "(node n1), attempt 2" in (task.events[-2].message or "")
                os.kill(victim.pid, signal.SIGCONT)  # it comes back: registers afresh, late result ignored
                wait_until(lambda: node_state(conn, "victim") == NodeState.READY, timeout=30)
                after = ssn.get_task(on_victim)
                assert after.events == task.events
                assert [ssn.invoke(b"x") for _ in range(3)] == [b"x"] * 3
                ssn.close()
        finally:
            victim.stop()


def test_a_requeued_task_runs_at_once_on_an_idle_bound_executor(tmp_path: Path) -> None:
    env = {"FLAME_NODE_CPUS": "1"}
    args = ["--delay-release", "60"]
    with LocalCluster(
        tmp_path / "c", port=0, node_name="n1", executors_env=env, session_manager_args=args
    ) as c:
        n2 = Node(c, "n2").start()
        try:
            with flamepy.Connection(c.endpoint) as conn:
                wait_ready(conn, "n1", "n2")
                register(conn)
                ssn = conn.create_session(flamepy.SessionAttributes(application="reliable", min_instances=2))
                wait_until(lambda: len(conn.list_executors()) == 2, timeout=30)
                short, long_ = ssn.create_task(b"sleep:0.2").id, ssn.create_task(b"sleep:3").id
                wait_until(lambda: ssn.get_task(short).state == TaskState.SUCCEED, timeout=30)
                node = wait_until(lambda: _node_of(ssn.get_task(long_)), timeout=30)
                os.kill(c.executor_manager_pid if node == "n1" else n2.pid, signal.SIGKILL)
                killed_at = time.monotonic()
                task = wait_until(lambda: _finished(ssn, long_), timeout=45)
                assert task is not None
                took = time.monotonic() - killed_at
                assert task.state == TaskState.SUCCEED
                assert took < 15, f"the requeued task waited {took:.1f} s"  # 3 s of work, no 60 s wait
                assert any(
                    e.code == REQUEUED and f"node {node} lost" in (e.message or "") for e in task.events
                )
                ssn.close()
        finally:
            n2.stop()
