"""What the SDK retries across a kill -9 and restart of the session manager, on a real local cluster.

* 2,000 ``run`` futures, half of them submitted while the session manager is down: every future
  resolves exactly once with its own output, none with UNAVAILABLE; the session holds exactly one
  task per future (keyed submissions retried, never created twice), and every time a task ran is a
  Running event, each re-run with its requeue event.
* ``invoke`` during the outage returns its real output (created with a key, retried); an ``invoke``
  in flight at the kill returns its task's real output too (RunTask carries an idempotency key and
  is repeated with it after the restart), and the task is created once.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

import flamepy
from flamepy import _dispatch
from flamepy.cluster import LocalCluster
from flamepy.types import TaskState
from tests.e2e.reliability_kit import counts, register
from tests.support import wait_until

pytestmark = pytest.mark.e2e

REQUEUED = 1003
N = 1000  # futures before the kill, and as many during the outage


@pytest.fixture
def decided(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[int]:
    """How often the dispatcher decided each future (resolve or fail), by id(future)."""
    seen: collections.Counter[int] = collections.Counter()
    resolve, fail = _dispatch.resolve, _dispatch.fail

    def counting_resolve(fut: Future, *args: object) -> None:
        seen[id(fut)] += 1
        resolve(fut, *args)  # type: ignore[arg-type]

    def counting_fail(fut: Future, err: BaseException) -> None:
        seen[id(fut)] += 1
        fail(fut, err)

    monkeypatch.setattr(_dispatch, "resolve", counting_resolve)
    monkeypatch.setattr(_dispatch, "fail", counting_fail)
    return seen


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    with LocalCluster(tmp_path / "c", port=0, executors_env={"FLAME_NODE_CPUS": "2"}) as c:
        yield c


def _check_runs(tasks: list[flamepy.Task], runs_log: Path) -> None:
    """Each task ran once, or every run of it is a Running event and every re-run has its event."""
    ran = collections.Counter(runs_log.read_text().split())
    for t in tasks:
        assert t.state == TaskState.SUCCEED and t.output == t.input, t
        starts = [e for e in t.events if e.code == int(TaskState.RUNNING)]
        requeues = [e for e in t.events if e.code == REQUEUED]
        assert ran[t.id] >= 1
        assert ran[t.id] == 1 or (ran[t.id] <= len(starts) and len(requeues) == len(starts) - 1), t.events


def test_run_futures_across_a_kill_9_resolve_once_each(
    cluster: LocalCluster, tmp_path: Path, decided: collections.Counter[int]
) -> None:
    runs_log = tmp_path / "runs.log"
    with flamepy.Connection(cluster.endpoint) as conn:
        register(conn)
        ssn = conn.create_session(
            flamepy.SessionAttributes(
                application="reliable", common_data=f"log:{runs_log}".encode(), min_instances=2
            )
        )
        assert ssn.invoke(b"warm") == b"warm"
        inputs = [(b"sleep:0.2" if i % 200 == 0 else f"a{i}".encode()) for i in range(N)]
        before = [ssn.run(x) for x in inputs]
        cluster.kill_session_manager()  # some done, some running, some not yet submitted
        during_inputs = [f"b{i}".encode() for i in range(N)]
        during = [ssn.run(x) for x in during_inputs]  # the submitter retries these with their keys
        cluster.restart_session_manager()
        outputs = [f.result(timeout=120) for f in before + during]  # no UNAVAILABLE raised
        assert outputs == inputs + during_inputs
        assert all(decided[id(f)] == 1 for f in before + during)  # decided exactly once each
        sid = ssn.id
        tasks = list(conn.get_session(sid).list_tasks())
        # one task per future (and the warm-up): a retried submission never created a task twice
        assert len(tasks) == 2 * N + 1
        assert sorted(t.input or b"" for t in tasks) == sorted([b"warm", *inputs, *during_inputs])
        wait_until(lambda: counts(conn, sid).succeed == 2 * N + 1, timeout=60)
        _check_runs(list(conn.get_session(sid).list_tasks()), runs_log)
        ssn.close()


@pytest.mark.parametrize("local_pipe", [True, False], ids=["local-socket", "grpc"])
def test_invoke_across_a_kill_9(cluster: LocalCluster, tmp_path: Path, local_pipe: bool) -> None:
    runs_log = tmp_path / "runs.log"
    with flamepy.Connection(cluster.endpoint, local_pipe=local_pipe) as conn:
        register(conn)
        attrs = flamepy.SessionAttributes(application="reliable", common_data=f"log:{runs_log}".encode())
        ssn = conn.create_session(attrs)
        sid = ssn.id
        assert ssn.invoke(b"warm") == b"warm"
        got: list[object] = []
        in_flight = threading.Thread(target=lambda: got.append(_outcome(ssn, b"sleep:1.5")), daemon=True)
        in_flight.start()
        wait_until(lambda: counts(conn, sid).running == 1, timeout=30)
        cluster.kill_session_manager()
        late: list[object] = []
        started_late = threading.Thread(target=lambda: late.append(_outcome(ssn, b"during")), daemon=True)
        started_late.start()  # while the session manager is down: retried with a key
        cluster.restart_session_manager()
        in_flight.join(timeout=120)
        started_late.join(timeout=120)
        assert late == [b"during"]
        assert got == [b"sleep:1.5"]  # the real outcome, not "may still run"
        wait_until(lambda: counts(conn, sid).succeed == 3, timeout=60)  # it ran, and is visible
        tasks = list(conn.get_session(sid).list_tasks())
        assert sorted(t.input or b"" for t in tasks) == [b"during", b"sleep:1.5", b"warm"]
        _check_runs(tasks, runs_log)
        ssn.close()


def _outcome(ssn: flamepy.Session, data: bytes) -> object:
    try:
        return ssn.invoke(data)
    except flamepy.FlameError as err:
        return err
