"""Task timeouts, cancelling running tasks and releases that always complete, on a real local
cluster (session manager, one 1-CPU executor manager, real service processes).

Each test fails on code without these features: a hung ``on_task_invoke`` blocked forever, its
executor stayed Releasing after the session went away, and a running task could not be cancelled.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import psutil
import pytest

import flamepy
from flamepy.cluster import LocalCluster
from flamepy.proto import extensions_pb2, extensions_pb2_grpc, frontend_pb2, frontend_pb2_grpc
from flamepy.types import TaskState
from tests.e2e.conftest import HERE, app_attrs
from tests.support import channel as auth_channel
from tests.support import wait_until

KILL_GRACE = 10.0  # the executor manager's default; our service dies on SIGTERM long before


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with LocalCluster(
        tmp_path_factory.mktemp("timeouts"), port=0, executors_env={"FLAME_NODE_CPUS": "1"}
    ) as c:
        yield c


@pytest.fixture(scope="module")
def conn(cluster: LocalCluster) -> Iterator[flamepy.Connection]:
    with flamepy.Connection(cluster.endpoint) as c:
        c.register_application("hang", app_attrs(HERE / "timeout_service.py"))
        yield c


@pytest.fixture(scope="module")
def channel(cluster: LocalCluster) -> Iterator[grpc.Channel]:
    with auth_channel(cluster.endpoint) as ch:
        yield ch


def new_session(conn: flamepy.Connection, app: str = "hang") -> flamepy.Session:
    return conn.create_session(flamepy.SessionAttributes(application=app))


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def hung_pids(path: Path) -> list[int]:
    """The service's pid and its ``sleep`` child's, once the hanging task wrote them."""
    wait_until(path.exists, timeout=30)
    return [int(p) for p in path.read_text().split()]


def node_cpu_free(conn: flamepy.Connection) -> int:
    [node] = conn.list_nodes()
    return node.allocatable.cpu


def test_a_hung_task_times_out_its_process_group_is_stopped_and_the_next_runs_fresh(
    conn: flamepy.Connection, channel: grpc.Channel, tmp_path: Path
) -> None:
    ssn = new_session(conn)
    ext = extensions_pb2_grpc.FrontendExtStub(channel)
    policy = ext.SetRetryPolicy(extensions_pb2.SetRetryPolicyRequest(session_id=ssn.id, task_timeout_s=2))
    assert policy.task_timeout_s == 2
    started = time.monotonic()
    fut = ssn.run(b"hang:" + str(tmp_path / "pids").encode())
    pids = hung_pids(tmp_path / "pids")
    with pytest.raises(flamepy.FlameError, match=r"timed out after 2s \(attempt 1\)"):
        fut.result(timeout=60)
    assert time.monotonic() - started < 2 + KILL_GRACE
    wait_until(lambda: all(gone(p) for p in pids), timeout=10)
    [task] = [t for t in ssn.list_tasks() if t.state == TaskState.FAILED]
    assert task.events[-1].message == "timed out after 2s (attempt 1)"
    fresh = int(ssn.invoke(b"pid", timeout=60) or b"0")
    assert fresh not in pids and not gone(fresh)
    ssn.close()


def test_cancel_a_running_task_stops_its_service_and_later_tasks_still_run(
    conn: flamepy.Connection, channel: grpc.Channel, tmp_path: Path
) -> None:
    ssn = new_session(conn)
    fut = ssn.run(b"hang:" + str(tmp_path / "pids").encode())
    pids = hung_pids(tmp_path / "pids")
    tid = wait_until(lambda: getattr(fut, "task_id", None))
    task = ssn.cancel_task(tid, "no longer needed")
    assert task.state == TaskState.CANCELLED
    assert (task.events[-1].code, task.events[-1].message) == (4, "no longer needed")
    wait_until(lambda: all(gone(p) for p in pids), timeout=KILL_GRACE)
    with pytest.raises(flamepy.FlameError, match="cancelled"):
        fut.result(timeout=30)
    again = ssn.cancel_task(tid, "twice")  # idempotent: the task as it is
    assert again.state == TaskState.CANCELLED and again.events[-1].message == "no longer needed"
    assert ssn.invoke(b"after", timeout=60) == b"after"
    fe = frontend_pb2_grpc.FrontendStub(channel)
    fe.GetTask(frontend_pb2.GetTaskRequest(session_id=ssn.id, task_id=tid))
    ext = extensions_pb2_grpc.FrontendExtStub(channel)
    with pytest.raises(grpc.RpcError) as info:
        ext.CancelTask(extensions_pb2.CancelTaskRequest(session_id=ssn.id, task_id="999"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    ssn.close()


def test_future_cancel_of_a_running_task(conn: flamepy.Connection, tmp_path: Path) -> None:
    ssn = new_session(conn)
    fut = ssn.run(b"hang:" + str(tmp_path / "pids").encode())
    pids = hung_pids(tmp_path / "pids")
    wait_until(lambda: getattr(fut, "task_id", None))
    assert fut.cancel() is True and fut.cancelled()
    wait_until(lambda: all(gone(p) for p in pids), timeout=KILL_GRACE)
    assert ssn.invoke(b"next", timeout=60) == b"next"
    ssn.close()


def test_cancel_a_running_raw_shell_script_of_flmexec(conn: flamepy.Connection, tmp_path: Path) -> None:
    ssn = new_session(conn, "flmexec")
    pid_file = tmp_path / "sh.pid"
    fut = ssn.run(f"echo $$ > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; exec sleep 30".encode())
    wait_until(pid_file.exists, timeout=30)
    pid = int(pid_file.read_text())
    wait_until(lambda: getattr(fut, "task_id", None))
    started = time.monotonic()
    assert fut.cancel() is True
    wait_until(lambda: gone(pid), timeout=KILL_GRACE + 5)
    assert time.monotonic() - started < KILL_GRACE + 5
    [task] = list(ssn.list_tasks())
    assert task.state == TaskState.CANCELLED  # not Succeed after 30 s
    assert ssn.invoke(b"echo later", timeout=60) == b"later\n"
    ssn.close()


@pytest.mark.parametrize("how", ["close", "delete"])
def test_a_session_whose_service_hangs_goes_away_and_frees_its_node(
    conn: flamepy.Connection, channel: grpc.Channel, tmp_path: Path, how: str
) -> None:
    ssn = new_session(conn)
    ssn.run(b"hang:" + str(tmp_path / "pids").encode())
    pids = hung_pids(tmp_path / "pids")
    assert node_cpu_free(conn) == 0
    if how == "close":
        ssn.close(cancel_running=True)
    else:
        frontend_pb2_grpc.FrontendStub(channel).DeleteSession(
            frontend_pb2.DeleteSessionRequest(session_id=ssn.id)
        )
    wait_until(lambda: all(gone(p) for p in pids), timeout=KILL_GRACE)
    wait_until(lambda: node_cpu_free(conn) == 1, timeout=KILL_GRACE)
    other = new_session(conn)
    assert other.invoke(b"bound", timeout=60) == b"bound"  # a new session gets the executor
    other.close()
