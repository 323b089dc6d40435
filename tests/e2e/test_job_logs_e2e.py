"""Job logs read through the session manager (FrontendExt.ReadTaskLog) on a real local cluster:
live while the job runs, complete once it ended, again after a session-manager restart; the
errors for an unknown task, a task without a log, a chunk over the bound and a node that is gone.

The cluster is this module's own: the last test stops its executor manager.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import flamepy
from flamepy.apps.joblog import read_records
from flamepy.apps.jobresult import JobResult
from flamepy.cluster import LocalCluster
from flamepy.joblogs import iter_log_records, tail_records
from flamepy.jobs import JobSpec, expand
from flamepy.types import NodeState, Task
from tests.support import wait_until

pytestmark = pytest.mark.e2e
BOUND_S = 30.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with LocalCluster(
        tmp_path_factory.mktemp("logs-cluster"), port=0, executors_env={"FLAME_NODE_CPUS": "2"}
    ) as c:
        yield c


@pytest.fixture(scope="module")
def conn(cluster: LocalCluster) -> Iterator[flamepy.Connection]:
    with flamepy.Connection(cluster.endpoint) as c:
        yield c


def _job(ssn: flamepy.Session, command: str, workdir: Path) -> Task:
    [launch] = expand(JobSpec(command=command, workdir=str(workdir), upload=False), job_id=ssn.id)
    return ssn.create_task(launch.to_task_input())


def _lines(records: list[dict[str, Any]]) -> list[str]:
    return [r["l"] for r in records if r["s"] == "out"]


def _finished(conn: flamepy.Connection, sid: str, tid: str) -> Task:
    for task in conn.transport.watch_task(sid, tid, timeout=BOUND_S):
        if task.state.is_terminal:
            return task
    raise AssertionError(f"task {sid}/{tid} did not finish")


@pytest.fixture(scope="module")
def finished_job(conn: flamepy.Connection, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Path]:
    """A job that printed 200 lines and ended: (session, task, its log file on the node)."""
    workdir = tmp_path_factory.mktemp("finished-job")
    ssn = conn.create_session(flamepy.SessionAttributes(application="flmexec"))
    task = _job(ssn, "for i in $(seq 1 200); do echo line $i; done; echo oops >&2", workdir)
    done = _finished(conn, ssn.id, task.id)
    assert done.output is not None, done.events
    ssn.close()
    return ssn.id, task.id, Path(JobResult.from_json(done.output).log)


def test_a_running_job_s_log_is_read_live_then_followed_to_its_end(
    conn: flamepy.Connection, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    ssn = conn.create_session(flamepy.SessionAttributes(application="flmexec"))
    try:
        task = _job(ssn, f'echo first; read word < {gate}; echo "second $word"', tmp_path)

        def first_line() -> list[str]:
            try:
                return _lines(list(iter_log_records(conn, ssn.id, task.id)))
            except flamepy.NotFoundError:  # not started yet
                return []

        assert wait_until(first_line, BOUND_S) == ["first"]  # the job is blocked on the gate
        assert conn.get_task(ssn.id, task.id).state == flamepy.TaskState.RUNNING
        with open(gate, "w") as f:  # the job reads it: the rest of its output follows
            f.write("go\n")
        records = list(iter_log_records(conn, ssn.id, task.id, follow=True, poll=0.05, deadline=BOUND_S))
        assert _lines(records) == ["first", "second go"]
        assert records[0]["e"] == "start" and records[-1]["e"] == "exit" and records[-1]["code"] == 0
        assert conn.get_task(ssn.id, task.id).state == flamepy.TaskState.SUCCEED
    finally:
        ssn.close()


def test_following_a_cancelled_job_ends_with_its_exit_record(
    conn: flamepy.Connection, tmp_path: Path
) -> None:
    """The task is Cancelled at once; the runner writes its cancel and exit records after."""
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    ssn = conn.create_session(flamepy.SessionAttributes(application="flmexec"))
    try:
        task = _job(ssn, f"echo waiting; read word < {gate}; echo never", tmp_path)

        def started() -> bool:
            try:
                return _lines(list(iter_log_records(conn, ssn.id, task.id))) == ["waiting"]
            except flamepy.NotFoundError:
                return False

        wait_until(started, BOUND_S)
        ssn.cancel_task(task.id, "stop it")
        records = list(iter_log_records(conn, ssn.id, task.id, follow=True, poll=0.05, deadline=BOUND_S))
        assert _lines(records) == ["waiting"]
        assert [r.get("e") for r in records if r["s"] == "sys"][-2:] == ["cancel", "exit"]
        assert records[-1]["reason"] == "Cancelled"
    finally:
        ssn.close()


def test_a_finished_job_s_log_is_complete_and_chunked(
    conn: flamepy.Connection, finished_job: tuple[str, str, Path]
) -> None:
    sid, tid, path = finished_job
    on_disk = list(read_records(path))
    records = list(iter_log_records(conn, sid, tid, chunk_bytes=100))  # many chunks, lines cut
    assert records == on_disk
    assert _lines(records) == [f"line {i}" for i in range(1, 201)]
    assert [r["l"] for r in records if r["s"] == "err"] == ["oops"]

    size = path.stat().st_size
    first = conn.read_task_log(sid, tid, 0, 10)
    assert (first.data, first.offset, first.next_offset, first.eof) == (path.read_bytes()[:10], 0, 10, False)
    assert first.size == size and first.node
    last = conn.read_task_log(sid, tid, size - 5)
    assert (last.next_offset, last.eof, len(last.data)) == (size, True, 5)
    past = conn.read_task_log(sid, tid, size + 100)
    assert (past.data, past.offset, past.eof) == (b"", size, True)

    tail, offset = tail_records(conn, sid, tid, lines=3)
    assert tail == on_disk[-3:] and offset == size


def test_logs_are_still_read_after_the_session_manager_restarts(
    cluster: LocalCluster, finished_job: tuple[str, str, Path]
) -> None:
    sid, tid, path = finished_job
    cluster.restart_session_manager()
    with flamepy.Connection(cluster.endpoint) as fresh:
        assert list(iter_log_records(fresh, sid, tid)) == list(read_records(path))


def test_unknown_tasks_and_tasks_without_a_log_are_not_found(conn: flamepy.Connection) -> None:
    ssn = conn.create_session(flamepy.SessionAttributes(application="flmexec"))
    try:
        with pytest.raises(flamepy.NotFoundError, match="not found"):
            conn.read_task_log(ssn.id, "999")
        with pytest.raises(flamepy.NotFoundError):
            conn.read_task_log("no-such-session", "1")
        plain = ssn.create_task(b"echo not a job")  # a raw script: no job log
        assert _finished(conn, ssn.id, plain.id).state == flamepy.TaskState.SUCCEED
        with pytest.raises(flamepy.NotFoundError, match=r"no job log on node .*not a job task"):
            conn.read_task_log(ssn.id, plain.id)
    finally:
        ssn.close()


def test_a_chunk_over_the_bound_is_an_invalid_argument(
    conn: flamepy.Connection, finished_job: tuple[str, str, Path]
) -> None:
    sid, tid, _ = finished_job
    with pytest.raises(flamepy.InvalidArgumentError, match="max_log_chunk_bytes"):
        conn.read_task_log(sid, tid, 0, (4 << 20) + 1)
    assert conn.read_task_log(sid, tid, 0, 4 << 20).eof


def test_a_node_that_is_gone_is_named_as_unavailable(
    cluster: LocalCluster, conn: flamepy.Connection, finished_job: tuple[str, str, Path]
) -> None:
    """Last in this module: it stops the cluster's executor manager."""
    sid, tid, _ = finished_job
    os.kill(cluster.executor_manager_pid, signal.SIGTERM)
    wait_until(lambda: all(n.state != NodeState.READY for n in conn.list_nodes()), BOUND_S)
    with pytest.raises(flamepy.UnavailableError) as info:
        conn.read_task_log(sid, tid)
    assert f"node {cluster.node_name} that ran task {sid}/{tid} is not connected" in info.value.message
