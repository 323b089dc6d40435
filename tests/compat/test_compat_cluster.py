"""flamepy 0.6.0's API against a real local cluster: ``flamepy.core.client.connect``,
``Application.url``, the agent API (``flamepy.service.Session`` with a context in OUR object cache
+ ``FlameInstance``), ``invoke(timeout=...)``, the server's failure message reaching the caller
unchanged, and ``Runner("app").service(fn)`` without a ``with`` block (closed at interpreter exit).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import flamepy
import flamepy.core.client
from flamepy.cache import reset_default_clients
from flamepy.client import reset_default_connection
from flamepy.cluster import LocalCluster
from flamepy.service import Session as AgentSession

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MAX_BIND_FAILURES = 2


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """The cluster, with this process's FLAME_* variables pointing at it (the helpers read them)."""
    with (
        pytest.MonkeyPatch.context() as mp,
        LocalCluster(
            tmp_path_factory.mktemp("compat-cluster"),
            port=0,
            executors_env={"FLAME_NODE_CPUS": "4", "FLAME_OVERCOMMIT": "1"},
            session_manager_args=["--max-bind-failures", str(MAX_BIND_FAILURES)],
        ) as c,
    ):
        mp.setenv("FLAME_CONFIG", str(c.data_dir / "no-such-flame.yaml"))
        mp.setenv("FLAME_ENDPOINT", c.endpoint)
        mp.setenv("FLAME_CACHE_ENDPOINT", c.cache_endpoint)
        reset_default_connection()
        reset_default_clients()
        try:
            yield c
        finally:
            reset_default_connection()
            reset_default_clients()


@pytest.fixture(scope="module")
def conn(cluster: LocalCluster) -> Iterator[flamepy.Connection]:
    with flamepy.core.client.connect(cluster.endpoint) as c:
        c.register_application(
            "compat-agent",
            {
                "command": sys.executable,
                "arguments": [str(HERE / "agent_service.py")],
                "working_directory": str(ROOT),
                "url": "file:///opt/agent.tgz",
            },
        )
        c.register_application(
            "compat-broken",
            flamepy.ApplicationAttributes(command="/nonexistent/flame-compat-command", arguments=["x"]),
        )
        yield c


def test_connect_returns_a_working_connection_and_application_url(conn: flamepy.Connection) -> None:
    app = conn.get_application("compat-agent")
    assert app is not None and app.url == "file:///opt/agent.tgz" and app.id == "compat-agent"
    assert app.working_directory == str(ROOT)
    assert "compat-agent" in {a.name for a in flamepy.core.list_applications()}


def test_agent_session_with_a_context_in_our_cache(conn: flamepy.Connection) -> None:
    with AgentSession(name="compat-agent", ctx={"count": 0, "who": "me"}) as ssn:
        assert ssn.id().startswith("compat-agent-")
        assert ssn.context() == {"count": 0, "who": "me"}
        assert ssn.invoke("hello") == ("hello", {"count": 0, "who": "me"})
        assert ssn.invoke("bump") == ("bump", {"count": 1, "who": "me"})
        again = AgentSession(session_id=ssn.id())
        assert again.invoke(None) == (None, {"count": 1, "who": "me"})
    with pytest.raises(ValueError, match="exactly one"):
        AgentSession(name="compat-agent", session_id="x")


def test_invoke_timeout_names_the_session_and_says_the_task_may_still_run(conn: flamepy.Connection) -> None:
    import cloudpickle

    ssn = flamepy.core.create_session("compat-agent")
    try:
        started = time.monotonic()
        with pytest.raises(flamepy.TaskTimeoutError) as info:
            ssn.invoke(cloudpickle.dumps("block"), timeout=1.0)
        assert time.monotonic() - started < 30
        err = info.value
        assert isinstance(err, flamepy.FlameError) and isinstance(err, TimeoutError)
        assert ssn.id in err.message and "compat-agent" in err.message and "may still run" in err.message
    finally:
        ssn.close()


def test_a_service_that_cannot_start_fails_invoke_and_futures_with_the_servers_message(
    conn: flamepy.Connection,
) -> None:
    ssn = conn.create_session(flamepy.SessionAttributes("compat-broken"))
    try:
        with pytest.raises(flamepy.FlameError) as invoked:
            ssn.invoke(b"x", timeout=120)
        fut = ssn.run(b"y")
        with pytest.raises(flamepy.FlameError) as resolved:
            fut.result(timeout=120)
        failed = [t for t in ssn.list_tasks() if t.state == flamepy.TaskState.FAILED]
        assert len(failed) == 2 and all(t.message for t in failed)
        for err in (invoked.value, resolved.value):
            assert err.code == flamepy.FlameErrorCode.INTERNAL
            assert "compat-broken" in err.message
            assert any((t.message or "?") in err.message for t in failed), (err.message, failed)
    finally:
        ssn.close()


RUNNER_SCRIPT = textwrap.dedent(
    """
    from flamepy.runner import Runner

    def add(a, b):
        return a + b

    svc = Runner("compat-nowith").service(add)   # no `with`: opens on first use
    print("result", svc(20, 22).get())
    # no close(): the interpreter's exit closes the Runner
    """
)


def test_runner_without_with_opens_on_first_use_and_closes_at_exit(
    cluster: LocalCluster, conn: flamepy.Connection, tmp_path: Path
) -> None:
    (tmp_path / "job.py").write_text(RUNNER_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "job.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr
    assert "result 42" in proc.stdout
    assert conn.get_application("compat-nowith") is None  # unregistered by the exit hook
    leftover = [s for s in conn.list_sessions() if s.application == "compat-nowith"]
    assert all(s.state == flamepy.SessionState.CLOSED for s in leftover)


def test_runner_service_made_directly_and_object_future_iterator(
    conn: flamepy.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flamepy.runner import ObjectFuture, ObjectFutureIterator, Runner, RunnerService
    from flamepy.runner import SessionContext as RunnerSessionContext

    monkeypatch.chdir(tmp_path)  # the Runner packages the working directory

    def _add(a: int, b: int) -> int:  # local: pickled by value, the service needs no test module
        return a + b

    with Runner("compat-rs") as runner:
        svc = RunnerService("compat-rs", _add)  # 0.6.0's way: through the open Runner of that name
        futures = [svc(i, i) for i in range(4)]
        assert all(isinstance(f, ObjectFuture) for f in futures)
        assert sorted(f.get() for f in ObjectFutureIterator(futures)) == [0, 2, 4, 6]
        _add._session_context = RunnerSessionContext(session_id="compat-chosen-1")  # type: ignore[attr-defined]
        chosen = runner.service(_add)
        assert chosen.session_id == "compat-chosen-1" and chosen(1, 1).get() == 2
        del _add._session_context  # type: ignore[attr-defined]  # an id names one session, ever
        ref = runner.put_object({"shared": True})
        assert ref.key.startswith("compat-rs/shared/")
    assert conn.get_application("compat-rs") is None
    alone = RunnerService("compat-alone", _add)  # no Runner open: it makes (and closes) its own
    try:
        assert alone(40, 2).get() == 42
    finally:
        alone.close()
    assert conn.get_application("compat-alone") is None


def test_connection_instance_is_the_helpers_default_connection(conn: flamepy.Connection) -> None:
    default = flamepy.core.ConnectionInstance.instance()
    assert default is flamepy.core.ConnectionInstance.instance()
    ssn = flamepy.core.create_session("compat-agent")
    try:
        assert ssn.connection is default and ssn.state == flamepy.SessionState.OPEN
        assert flamepy.core.get_session(ssn.id).application == "compat-agent"
    finally:
        flamepy.core.close_session(ssn.id)


def test_python_m_flamepy_runner_self_test_passes(conn: flamepy.Connection, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "flamepy.runner", "--tasks", "3", "--name", "compat-selftest"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "function results: [0, 1, 4]" in proc.stdout
    assert "chained result: 13" in proc.stdout and "stateful result: 3" in proc.stdout
    assert conn.get_application("compat-selftest") is None
