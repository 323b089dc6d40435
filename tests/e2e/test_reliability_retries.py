"""Re-runs under a retry limit, against real processes on two nodes: a task whose service process
kills itself, or kills its executor manager, runs max_retries + 1 times (the application's policy,
set with FrontendExt.SetRetryPolicy, or the server's --max-retries), every re-run recorded as
event 1003 with its attempt, then fails (code 3) with its history; the cluster keeps working."""

from __future__ import annotations

from pathlib import Path

import pytest

import flamepy
from flamepy.cluster import LocalCluster
from flamepy.proto import extensions_pb2 as ext
from flamepy.proto import extensions_pb2_grpc
from flamepy.types import NodeState, TaskState
from tests.e2e.reliability_kit import Node, node_state, register, wait_ready
from tests.support import channel as auth_channel
from tests.support import wait_until

pytestmark = pytest.mark.e2e

REQUEUED = 1003
FAILED = int(TaskState.FAILED)


def _failed_task(ssn: flamepy.Session, timeout: float) -> flamepy.Task:
    def done() -> flamepy.Task | None:
        t = ssn.get_task("1")
        return t if t.state.is_terminal else None

    task = wait_until(done, timeout=timeout)
    assert task is not None
    return task


def _requeues(task: flamepy.Task) -> list[str]:
    return [e.message or "" for e in task.events if e.code == REQUEUED]


def test_a_service_that_kills_itself_is_retried_max_retries_times_then_fails(tmp_path: Path) -> None:
    with LocalCluster(tmp_path / "c", port=0, node_name="n1") as cluster:  # --max-retries 3 (default)
        extra = Node(cluster, "n2").start()
        try:
            with flamepy.Connection(cluster.endpoint) as conn:
                wait_ready(conn, "n1", "n2")
                register(conn)
                request = ext.SetRetryPolicyRequest(application="reliable", max_retries=2)
                with auth_channel(f"127.0.0.1:{cluster.port}") as channel:
                    policy = extensions_pb2_grpc.FrontendExtStub(channel).SetRetryPolicy(request, timeout=30)
                assert (policy.max_retries, policy.retry_on_error) == (2, False)
                ssn = conn.create_session(flamepy.SessionAttributes(application="reliable"))
                ssn.create_task(b"die")
                task = _failed_task(ssn, timeout=60)
                assert task.state == TaskState.FAILED and task.events[-1].code == FAILED
                message = task.events[-1].message or ""
                assert message.startswith("failed after 3 attempts: attempt 1: "), message
                assert "attempt 2: " in message and "attempt 3: " in message
                assert message.count("service process") >= 3, message
                requeues = _requeues(task)
                assert [m.split(":")[0] for m in requeues] == [
                    "requeued after attempt 1",
                    "requeued after attempt 2",
                ], requeues
                starts = [e.message or "" for e in task.events if e.code == int(TaskState.RUNNING)]
                assert [s.rsplit(", ", 1)[-1] for s in starts] == ["attempt 1", "attempt 2", "attempt 3"]
                # both nodes survived and still run work
                assert {node_state(conn, n) for n in ("n1", "n2")} == {NodeState.READY}
                assert ssn.invoke(b"after") == b"after"
                ssn.close()
        finally:
            extra.stop()


def test_a_task_that_kills_its_executor_manager_is_not_requeued_forever(tmp_path: Path) -> None:
    with LocalCluster(
        tmp_path / "c", port=0, node_name="n1", session_manager_args=["--max-retries", "1"]
    ) as cluster:
        n2 = Node(cluster, "n2").start()
        n3 = Node(cluster, "n3").start()
        try:
            with flamepy.Connection(cluster.endpoint) as conn:
                wait_ready(conn, "n1", "n2", "n3")
                register(conn)
                ssn = conn.create_session(flamepy.SessionAttributes(application="reliable"))
                ssn.create_task(b"kill-manager")
                task = _failed_task(ssn, timeout=60)
                message = task.events[-1].message or ""
                assert task.state == TaskState.FAILED, task.events
                assert message.startswith("failed after 2 attempts: attempt 1: node n"), message
                assert "attempt 2: node n" in message and " lost" in message
                assert len(_requeues(task)) == 1
                # two executor managers died, one is left: the session still runs work on it
                lost = [n for n in ("n1", "n2", "n3") if node_state(conn, n) != NodeState.READY]
                assert len(lost) == 2, lost
                assert ssn.invoke(b"after") == b"after"
                ssn.close()
        finally:
            n2.stop()
            n3.stop()
