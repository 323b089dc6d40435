"""The SDK's retry-policy options on a real local cluster (session manager, one executor manager,
real service processes): ``create_session(max_retries=1)`` makes a task whose service kills itself
fail after 2 attempts; ``task_timeout=1`` fails a task that runs longer as timed out; a policy set
with ``Connection.set_retry_policy`` keeps its task timeout across a restart of the session manager
(SQLite stores it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import flamepy
from flamepy.cluster import LocalCluster
from flamepy.types import RetryPolicy, TaskState
from tests.e2e.reliability_kit import register

pytestmark = pytest.mark.e2e

APP = "reliable"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with LocalCluster(tmp_path_factory.mktemp("policy"), port=0) as c:
        with flamepy.Connection(c.endpoint) as conn:
            register(conn, APP)
        yield c


def _attrs() -> flamepy.SessionAttributes:
    return flamepy.SessionAttributes(application=APP)


def test_max_retries_on_the_session_fails_a_dying_task_after_two_attempts(cluster: LocalCluster) -> None:
    with flamepy.Connection(cluster.endpoint) as conn:
        ssn = conn.create_session(_attrs(), max_retries=1)
        with pytest.raises(flamepy.FlameError, match="failed after 2 attempts"):
            ssn.invoke(b"die")
        [task] = list(ssn.list_tasks())
        assert task.state == TaskState.FAILED
        starts = [e.message or "" for e in task.events if e.code == int(TaskState.RUNNING)]
        assert [s.rsplit(", ", 1)[-1] for s in starts] == ["attempt 1", "attempt 2"]
        assert ssn.invoke(b"after") == b"after"
        ssn.close()


def test_task_timeout_on_the_session_times_a_task_out(cluster: LocalCluster) -> None:
    with flamepy.Connection(cluster.endpoint) as conn:
        ssn = conn.create_session(_attrs(), task_timeout=1)
        with pytest.raises(flamepy.FlameError, match=r"timed out after 1s \(attempt 1\)"):
            ssn.invoke(b"sleep:30")
        assert ssn.invoke(b"quick") == b"quick"
        ssn.close()


def test_a_policy_keeps_its_timeout_across_a_restart(tmp_path: Path) -> None:
    with LocalCluster(tmp_path / "c", port=0) as cluster, flamepy.Connection(cluster.endpoint) as conn:
        register(conn, APP)
        ssn = conn.create_session(_attrs())
        got = conn.set_retry_policy(session=ssn.id, max_retries=0, task_timeout=1.5)
        assert got == RetryPolicy(max_retries=0, retry_on_error=False, task_timeout=1.5)
        cluster.kill_session_manager()
        cluster.restart_session_manager()
        with pytest.raises(flamepy.FlameError, match=r"timed out after 1\.5s \(attempt 1\)"):
            ssn.invoke(b"sleep:30")
        # the policy in effect after the restart still has its timeout (None leaves it as it is)
        assert conn.set_retry_policy(session=ssn, retry_on_error=False) == got
        ssn.close()
