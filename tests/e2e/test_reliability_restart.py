"""kill -9 of the session manager mid-burst, against real processes: every task ends once (one
terminal state, its real output), and every time a task really ran is visible in its events — a
Running event per attempt, each re-run recorded as event 1003 naming the attempt. A CreateTasks
retried with the same idempotency keys after the restart gives the same task ids."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

import flamepy
from flamepy.cluster import LocalCluster
from flamepy.proto import extensions_pb2 as ext
from flamepy.proto import extensions_pb2_grpc
from flamepy.types import TaskState
from tests.e2e.reliability_kit import Node, counts, register, wait_ready
from tests.support import channel as auth_channel
from tests.support import wait_until

pytestmark = pytest.mark.e2e

REQUEUED = 1003
TASKS = 40


def test_kill_9_mid_burst_every_rerun_is_recorded_and_no_outcome_is_duplicated(tmp_path: Path) -> None:
    runs_log = tmp_path / "runs.log"
    with LocalCluster(
        tmp_path / "c", port=0, node_name="n1", executors_env={"FLAME_NODE_CPUS": "1"}
    ) as cluster:
        n2 = Node(cluster, "n2").start()
        try:
            with flamepy.Connection(cluster.endpoint) as conn:
                wait_ready(conn, "n1", "n2")
                register(conn)
                attrs = flamepy.SessionAttributes(
                    application="reliable", common_data=f"log:{runs_log}".encode()
                )
                ssn = conn.create_session(attrs)
                sid = ssn.id
                for i in range(TASKS):
                    ssn.create_task(f"sleep:0.{i % 3 + 3}".encode())
                wait_until(lambda: (s := counts(conn, sid)).succeed >= 6 and s.running >= 1, timeout=60)
            cluster.kill_session_manager()
            cluster.restart_session_manager()
            with flamepy.Connection(cluster.endpoint) as conn:
                wait_until(lambda: counts(conn, sid).succeed == TASKS, timeout=90)
                tasks = list(conn.get_session(sid).list_tasks())
        finally:
            n2.stop()
    ran = collections.Counter(runs_log.read_text().split())
    assert len(tasks) == TASKS
    assert any(n > 1 for n in ran.values()), f"the kill hit no running task: {ran}"
    restarts = 0
    for t in tasks:
        assert t.state == TaskState.SUCCEED and t.output == t.input
        terminal = [e for e in t.events if e.code in (2, 3, 4)]
        assert len(terminal) == 1, t.events
        starts = [e.message or "" for e in t.events if e.code == int(TaskState.RUNNING)]
        requeues = [e.message or "" for e in t.events if e.code == REQUEUED]
        assert ran[t.id] <= len(starts), (t.id, ran[t.id], t.events)  # every real run is visible
        assert len(requeues) == len(starts) - 1, t.events  # and every re-run says why
        assert [s.rsplit(", ", 1)[-1] for s in starts] == [f"attempt {n}" for n in range(1, len(starts) + 1)]
        restarts += sum("after session manager restart (attempt" in m for m in requeues)
    assert restarts >= 1


def test_create_tasks_with_idempotency_keys_survives_a_restart(tmp_path: Path) -> None:
    with LocalCluster(tmp_path / "c", port=0, node_name="n1") as cluster:
        with flamepy.Connection(cluster.endpoint) as conn:
            wait_ready(conn, "n1")
            register(conn)
            sid = conn.create_session(flamepy.SessionAttributes(application="reliable")).id
        request = ext.CreateTasksRequest(
            session_id=sid,
            inputs=[
                ext.TaskInput(input=b"a", idempotency_key="k-a"),
                ext.TaskInput(input=b"b"),
                ext.TaskInput(input=b"c", idempotency_key="k-c"),
            ],
        )
        with auth_channel(f"127.0.0.1:{cluster.port}") as channel:
            first = list(
                extensions_pb2_grpc.FrontendExtStub(channel).CreateTasks(request, timeout=30).task_ids
            )
        cluster.kill_session_manager()
        cluster.restart_session_manager()
        with auth_channel(f"127.0.0.1:{cluster.port}") as channel:
            again = list(
                extensions_pb2_grpc.FrontendExtStub(channel).CreateTasks(request, timeout=30).task_ids
            )
        assert first == ["1", "2", "3"] and again == ["1", "4", "3"]
        with flamepy.Connection(cluster.endpoint) as conn:
            done = wait_until(lambda: (s := counts(conn, sid)).succeed == 4 and s, timeout=60)
            assert done.pending == done.running == 0
