"""Real services and clients from PyPI work with us (issue 10, item 2).

A service written with flamepy 0.6.0 from PyPI (``flame060/service.py``: a plain ``FlameService``
subclass + ``flamepy.run``) runs under our executor manager with the 0.6.0 venv's python as the
application's command, registered the way Flame's examples register services (``arguments:
[service.py, --greeting=${VAR}]`` relative to a ``working_directory`` with a trailing slash, plus
``environments``). It is driven

- by the 0.6.0 client (``flame060/client.py``, a subprocess under the 0.6.0 venv configured by a
  ``~/.flame/flame.yaml`` in a temporary HOME, or by ``FLAME_ENDPOINT``): register (every
  ApplicationSpec field round-trips), create_session with common data, invoke, 100 ``run`` futures,
  a task that raises (Failed, event code 3 with its message), watch_task, get_task, list_tasks,
  counters, close, open of an unknown / closed session, open_session with a spec, closing a session
  with waiting tasks, and 0.6.0's agent API (``flamepy.service.Session`` + ``FlameInstance``,
  ``flame060/agent.py``). The driver prints one JSON line per step as it ends; each test below
  checks one step, so one failure names its step and a hang still leaves the steps before it;
- by our client, in this process;
- and a 0.6.0 service whose ``on_session_enter`` raises (its driver run overlaps the others).

The reference venv (``.venv-flame060``) is created from PyPI on first use
(``tests/conformance/reference_venv.py``); without network this fails in CI and skips elsewhere.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import wait
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import flamepy
from flamepy.cluster import LocalCluster
from tests.conformance.reference_venv import (
    REFERENCE_VENV,
    REFERENCE_VERSION,
    clean_env,
    require_reference_python,
)

# the driver runs in fixtures: their bound (CLIENT_TIMEOUT_S) must fit in the test's
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

HERE = Path(__file__).resolve().parent
FLAME060_DIR = HERE / "flame060"
CLIENT = FLAME060_DIR / "client.py"
CLIENT_APP = "flame060-echo"
OURS_APP = "flame060-echo-ours"
ENTER_FAILS_APP = "flame060-enter-fails"
CLIENT_TIMEOUT_S = 180
COMMON_DATA = "common data from a flamepy 0.6.0 client \x00\xff"  # client.py's, as latin-1 text
GREETING = "hello from the application"

# Tasks the 0.6.0 client creates in its session: invoke x7, 100 run futures, run_raises,
# invoke_raises, the watched failing task and the watched task.
CLIENT_SUCCEEDED = 7 + 100 + 1
CLIENT_FAILED = 3


@pytest.fixture(scope="module")
def flame060_python() -> Path:
    return require_reference_python()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A cluster in the documented compatibility mode for independent Flame clients (a 0.6.0
    client presents no token): ``--auth none`` (docs/security.md)."""
    with LocalCluster(
        tmp_path_factory.mktemp("cluster060"), port=0, executors_env={"FLAME_NODE_CPUS": "2"}, auth="none"
    ) as c:
        yield c


# -- the 0.6.0 client ----------------------------------------------------------------------------


@dataclass
class Steps:
    """The JSON lines of one client.py run, by step name."""

    records: dict[str, dict[str, Any]]
    stderr: str
    problem: str | None  # a timeout or a non-zero exit

    def value(self, name: str) -> Any:
        record = self.records.get(name)
        if record is None:
            last = list(self.records)[-1] if self.records else "none"
            pytest.fail(
                f"0.6.0 client never reported step {name!r} (last step: {last}; {self.problem})\n"
                f"stderr tail:\n{self.stderr[-3000:]}",
                pytrace=False,
            )
        if not record["ok"]:
            pytest.fail(
                f"0.6.0 client step {name!r} raised {record['error']} "
                f"(code {record['code']}): {record['message']}\n{record['traceback']}",
                pytrace=False,
            )
        return record["value"]

    def error(self, name: str) -> dict[str, Any]:
        record = self.records.get(name)
        assert record is not None, f"0.6.0 client never reported step {name!r} ({self.problem})"
        assert not record["ok"], f"step {name!r} was expected to raise but returned {record['value']!r}"
        return record


def _flame_yaml(endpoint: str) -> str:
    return f"current-context: ours\ncontexts:\n  - name: ours\n    cluster:\n      endpoint: {endpoint}\n"


def start_client(python: Path, home: Path, *args: str, endpoint: str | None = None) -> subprocess.Popen[str]:
    """client.py under the 0.6.0 venv in a fresh HOME; ``FLAME_ENDPOINT`` only when given."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in clean_env(HOME=str(home)).items() if not k.startswith("FLAME_")}
    if endpoint is not None:
        env["FLAME_ENDPOINT"] = endpoint
    return subprocess.Popen(
        [str(python), str(CLIENT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=home,
        env=env,
    )


def collect(proc: subprocess.Popen[str], timeout: float = CLIENT_TIMEOUT_S) -> Steps:
    """Wait for a client.py run (killed after ``timeout`` s) and parse its JSON lines."""
    problem = None
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            problem = f"client.py exited with code {proc.returncode}"
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        problem = f"client.py timed out after {timeout}s"
    records = {}
    for line in stdout.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            records[record["step"]] = record
    return Steps(records, stderr, problem)


def run_client(python: Path, home: Path, *args: str, endpoint: str | None = None) -> Steps:
    return collect(start_client(python, home, *args, endpoint=endpoint))


@pytest.fixture(scope="module")
def enter_fails_proc(
    cluster: LocalCluster, flame060_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[subprocess.Popen[str]]:
    """``client.py --enter-fails``, started first so that its wait overlaps the main scenario."""
    home = tmp_path_factory.mktemp("home060-enter-fails")
    proc = start_client(
        flame060_python, home, "--enter-fails", ENTER_FAILS_APP, str(FLAME060_DIR), endpoint=cluster.endpoint
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.fixture(scope="module")
def enter_fails060(enter_fails_proc: subprocess.Popen[str], client060: Steps) -> Steps:
    return collect(enter_fails_proc)


@pytest.fixture(scope="module")
def client060(
    cluster: LocalCluster,
    flame060_python: Path,
    tmp_path_factory: pytest.TempPathFactory,
    enter_fails_proc: subprocess.Popen[str],
) -> Steps:
    """The whole client.py scenario, configured by ``~/.flame/flame.yaml`` only."""
    home = tmp_path_factory.mktemp("home060")
    (home / ".flame").mkdir()
    (home / ".flame" / "flame.yaml").write_text(_flame_yaml(cluster.endpoint))
    steps = run_client(flame060_python, home, CLIENT_APP, str(FLAME060_DIR), str(home / "tasks.lock"))
    assert "reference" in steps.records, f"client.py did not start ({steps.problem}):\n{steps.stderr[-3000:]}"
    return steps


def test_client_and_service_are_flamepy_060_from_pypi(client060: Steps) -> None:
    ref = client060.value("reference")
    assert ref["version"] == REFERENCE_VERSION
    assert ref["file"].startswith(str(REFERENCE_VENV))
    env = client060.value("invoke_env")
    assert env["flamepy_version"] == REFERENCE_VERSION
    assert env["flamepy_file"].startswith(str(REFERENCE_VENV))
    assert client060.value("done") is None, client060.problem


def test_register_application_keeps_flame_style_fields(client060: Steps, flame060_python: Path) -> None:
    assert client060.value("register_application") is None
    app = dict(client060.value("get_application"))
    app.pop("creation_time")
    assert app == {
        "name": CLIENT_APP,
        "state": "ENABLED",
        "shim": "HOST",
        "command": str(flame060_python),
        "arguments": ["service.py", "--greeting=${FLAME060_GREETING}"],
        "environments": {"FLAME060_GREETING": GREETING, "FLAME_LOG_LEVEL": "DEBUG"},
        "working_directory": f"{FLAME060_DIR}/",
        "description": "a flamepy 0.6.0 service",
        "labels": ["flame060"],
        "url": "file:///opt/flame/packages/flame060-echo.tar.gz",
    }
    assert CLIENT_APP in client060.value("list_applications")


def test_every_application_field_round_trips(client060: Steps) -> None:
    app = dict(client060.value("full_application"))
    app.pop("creation_time")
    assert app == {
        "name": f"{CLIENT_APP}-full",
        "state": "ENABLED",
        "shim": "HOST",
        "image": "registry.example/flame/echo:1",
        "description": "every ApplicationSpec field",
        "labels": ["a", "b"],
        "command": "/usr/bin/env",
        "arguments": ["python", "main.py", "--flag=${GREETING}"],
        "environments": {"GREETING": "hi", "EMPTY": ""},
        "working_directory": "/opt/flame/full",
        "max_instances": 7,
        "delay_release": 3,
        "url": "file:///opt/flame/packages/full.tar.gz",
        "installer": "pip",
        "schema": ["in", "out", "cd"],
    }


def test_the_service_starts_in_its_working_directory_with_its_environments(client060: Steps) -> None:
    env = client060.value("invoke_env")
    assert env["cwd"] == str(FLAME060_DIR)
    # the relative argument resolved in working_directory, ${VAR} expanded from environments
    assert env["argv"] == ["service.py", f"--greeting={GREETING}"]
    assert env["env"] == {"FLAME060_GREETING": GREETING}
    session_id = client060.value("session")["id"]
    assert env["session_id"] == env["task_session_id"] == session_id
    assert env["application"]["name"] == CLIENT_APP
    assert env["application"]["working_directory"] == f"{FLAME060_DIR}/"
    assert env["application"]["url"] == "file:///opt/flame/packages/flame060-echo.tar.gz"
    assert env["application"]["image"] is None


def test_create_session_with_common_data(client060: Steps) -> None:
    ssn = client060.value("session")
    assert ssn["id"].startswith(f"{CLIENT_APP}-")  # 0.6.0 chooses the id client-side
    assert ssn["application"] == CLIENT_APP
    assert ssn["state"] == "OPEN"
    assert ssn["common_data"] == COMMON_DATA
    assert client060.value("invoke_common_data") == COMMON_DATA  # as on_session_enter saw it


def test_invoke(client060: Steps) -> None:
    assert client060.value("invoke") == "hello"
    assert client060.value("invoke_none") is None
    assert client060.value("invoke_empty") == ""  # empty output is not "no output"
    assert client060.value("invoke_1_5mib") is True


def test_100_run_futures(client060: Steps) -> None:
    result = client060.value("run_many")
    assert result == {"not_done": 0, "succeeded": 100, "all_match": True, "failures": []}
    # Like Flame's executors, ours call a service's OnTaskInvoke one task at a time, although a
    # 0.6.0 service would accept 10 at once: services written for Flame need not be thread-safe.
    stats = client060.value("stats")
    assert stats["max_in_flight"] == 1, stats


def test_a_raising_task_fails_with_its_message(client060: Steps) -> None:
    # 0.6.0's future takes the message of the task's event with code 3 (Failed).
    assert client060.value("run_raises") == {
        "ok": False,
        "code": "INTERNAL",
        "message": "the service refused task 7",
    }
    err = client060.error("invoke_raises")
    assert (err["error"], err["code"], err["message"]) == ("FlameError", "INTERNAL", "invoke refused")


def test_watch_task_of_a_failing_task(client060: Steps) -> None:
    updates = client060.value("watch_failed_task")
    assert updates, "watch_task yielded nothing"
    final = updates[-1]
    assert final["state"] == "FAILED" and final["failed"] and final["completed"]
    assert sum(u["completed"] for u in updates) == 1, updates  # one terminal message, then the end
    assert {"code": 3, "message": "watched failure"} in final["events"]
    got = client060.value("get_failed_task")
    assert got["state"] == "FAILED" and got["has_completion_time"]
    assert {"code": 3, "message": "watched failure"} in got["events"]


def test_watch_task(client060: Steps) -> None:
    created = client060.value("create_task")
    assert created["state"] in ("PENDING", "RUNNING", "SUCCEED")
    updates = client060.value("watch_task")
    assert [u["state"] for u in updates][-1] == "SUCCEED"
    assert sum(u["completed"] for u in updates) == 1, updates
    assert updates[-1]["output"] == "watched"
    assert {u["id"] for u in updates} == {created["id"]}
    # watching a task that has already finished: its terminal state, once
    finished = client060.value("watch_finished_task")
    assert [(u["state"], u["output"]) for u in finished] == [("SUCCEED", "watched")]


def test_list_tasks(client060: Steps) -> None:
    listed = client060.value("list_tasks")
    session_id = client060.value("session")["id"]
    assert listed["count"] == CLIENT_SUCCEEDED + CLIENT_FAILED
    assert listed["states"] == {"SUCCEED": CLIENT_SUCCEEDED, "FAILED": CLIENT_FAILED}
    assert listed["session_ids"] == [session_id]
    messages = sorted(e["message"] for events in listed["failed_events"] for e in events if e["code"] == 3)
    assert messages == ["invoke refused", "the service refused task 7", "watched failure"]


def test_session_counters(client060: Steps) -> None:
    ssn = client060.value("get_session")
    assert (ssn["pending"], ssn["running"], ssn["succeed"], ssn["failed"]) == (
        0,
        0,
        CLIENT_SUCCEEDED,
        CLIENT_FAILED,
    )
    assert ssn["state"] == "OPEN"
    assert ssn["id"] in client060.value("list_sessions")


def test_close_session(client060: Steps) -> None:
    assert client060.value("close_session") is None
    closed = client060.value("get_closed_session")
    assert closed["state"] == "CLOSED" and closed["has_completion_time"]
    assert (closed["succeed"], closed["failed"]) == (CLIENT_SUCCEEDED, CLIENT_FAILED)


def test_open_of_an_unknown_session_is_not_found(client060: Steps) -> None:
    err = client060.error("open_unknown_session")
    assert (err["error"], err["code"]) == ("FlameError", "NOT_FOUND"), err
    assert "no-such-session-flame060" in err["message"]


def test_errors_of_closed_and_duplicate_sessions(client060: Steps) -> None:
    # 0.6.0 maps FAILED_PRECONDITION to INVALID_STATE in open_session, everything to INTERNAL elsewhere
    err = client060.error("open_closed_session")
    assert err["code"] == "INVALID_STATE" and "is not open" in err["message"], err
    err = client060.error("create_task_in_closed_session")
    assert err["code"] == "INTERNAL" and "is not open" in err["message"], err
    err = client060.error("create_duplicate_session")
    assert err["code"] == "INTERNAL" and "already exists" in err["message"], err


def test_open_session_with_a_spec(client060: Steps) -> None:
    opened = client060.value("open_session_with_spec")
    assert opened["id"] == client060.value("session")["id"] + "-spec"
    assert (opened["state"], opened["common_data"]) == ("OPEN", "from open_session")
    assert client060.value("invoke_opened_with_spec") == "from open_session"
    err = client060.error("open_session_with_other_spec")
    assert "spec mismatch" in err["message"] and "min_instances" in err["message"], err
    assert client060.value("close_opened_with_spec") is None


def test_the_060_agent_api_without_a_context(client060: Steps) -> None:
    """flamepy.service.Session(name=...) + FlameInstance @entrypoint: cloudpickled tasks."""
    assert client060.value("agent_register") is None
    assert client060.value("agent_session").startswith(f"{CLIENT_APP}-agent-")
    assert client060.value("agent_invoke") == {"keys": ["x", "y"], "total": 3}
    err = client060.error("agent_invoke_raises")
    assert (err["error"], err["code"], err["message"]) == ("FlameError", "INTERNAL", "cannot summarise 7")
    assert client060.value("agent_close") is None
    assert client060.value("agent_unregister") is None


def test_unregister_application(client060: Steps) -> None:
    assert client060.value("unregister_application") is None
    assert client060.value("get_unregistered_application") is True


def test_session_without_common_data_and_open_session(client060: Steps) -> None:
    bare = client060.value("session_without_common_data")
    assert bare["common_data"] is None
    assert client060.value("invoke_without_common_data") is None  # the service saw None, not b""
    opened = client060.value("open_session")
    assert (opened["id"], opened["state"], opened["succeed"]) == (bare["id"], "OPEN", 1)
    assert client060.value("close_session_without_common_data") is None


def test_timestamps_are_milliseconds_since_the_epoch(client060: Steps) -> None:
    # 0.6.0 divides every timestamp by 1000: seconds on the wire would land in January 1970.
    now = datetime.now(timezone.utc)
    stamps = {
        "application": client060.value("get_application")["creation_time"],
        "session": client060.value("session")["creation_time"],
        "task": client060.value("get_failed_task")["creation_time"],
    }
    for what, stamp in stamps.items():
        assert abs(datetime.fromisoformat(stamp) - now) < timedelta(hours=1), (what, stamp)


def test_list_nodes_and_executors(client060: Steps) -> None:
    assert client060.value("list_nodes") >= 1
    assert client060.value("list_executors") >= 0  # released ones may be gone: the call must work


def test_closing_a_session_cancels_its_waiting_tasks_which_060_cannot_read(client060: Steps) -> None:
    """Closing a session with Pending tasks cancels them (wire state Cancelled = 4), as Flame's own
    session manager does. flamepy 0.6.0's Python ``TaskState`` has no Cancelled member, so its
    ``list_tasks``/``get_task`` fail on such a task; this is a limitation of the 0.6.0 client (it
    has the same problem against Flame), not of our server. Session calls keep working."""
    closed = client060.value("close_waiting_session")
    assert closed["state"] == "CLOSED" and closed["pending"] == 0 and closed["has_completion_time"]
    assert client060.value("get_waiting_session")["state"] == "CLOSED"
    err = client060.error("list_waiting_tasks")
    assert (err["code"], err["message"]) == ("INTERNAL", "failed to list tasks: 4 is not a valid TaskState")
    err = client060.error("get_last_waiting_task")
    assert (err["error"], err["message"]) == ("ValueError", "4 is not a valid TaskState")


def test_flame_endpoint_variable_configures_the_060_client(
    cluster: LocalCluster, flame060_python: Path, tmp_path: Path
) -> None:
    steps = run_client(flame060_python, tmp_path / "home", "--list-applications", endpoint=cluster.endpoint)
    assert "flmexec" in steps.value("list_applications"), steps.problem


# -- our client, the same 0.6.0 service ------------------------------------------------------------


@pytest.fixture(scope="module")
def our_conn(cluster: LocalCluster, flame060_python: Path) -> Iterator[flamepy.Connection]:
    """Our client, with the 0.6.0 service registered Flame-style through our register_application."""
    with flamepy.Connection(cluster.endpoint) as conn:
        attrs = flamepy.ApplicationAttributes(
            command=str(flame060_python),
            arguments=["service.py"],
            working_directory=str(FLAME060_DIR),
            environments={"FLAME060_GREETING": GREETING},
        )
        conn.register_application(OURS_APP, attrs)
        try:
            yield conn
        finally:
            conn.unregister_application(OURS_APP)


@pytest.fixture
def ours(our_conn: flamepy.Connection) -> Iterator[flamepy.Session]:
    ssn = our_conn.create_session(
        flamepy.SessionAttributes(application=OURS_APP, common_data=b"ours \x00\xff")
    )
    try:
        yield ssn
    finally:
        ssn.close()


def test_our_client_invokes_a_060_service(ours: flamepy.Session) -> None:
    assert ours.invoke(b"hello") == b"hello"
    assert ours.invoke(b"common") == b"ours \x00\xff"
    assert ours.invoke(b"none") is None
    env = json.loads(ours.invoke(b"env") or b"{}")
    assert env["flamepy_version"] == REFERENCE_VERSION
    assert env["cwd"] == str(FLAME060_DIR) and env["argv"] == ["service.py"]
    assert env["env"] == {"FLAME060_GREETING": GREETING}
    assert env["session_id"] == ours.id


def test_our_client_runs_100_futures_on_a_060_service(ours: flamepy.Session) -> None:
    inputs = [f"ours-{i}".encode() for i in range(100)]
    futures = [ours.run(data) for data in inputs]
    _, not_done = wait(futures, timeout=120)
    assert not not_done
    assert [f.result() for f in futures] == inputs


def test_our_client_sees_a_060_task_fail_with_its_message(ours: flamepy.Session) -> None:
    with pytest.raises(flamepy.FlameError, match="our task refused"):
        ours.invoke(b"raise:our task refused")
    with pytest.raises(flamepy.FlameError, match="our future refused"):
        ours.run(b"raise:our future refused").result(timeout=120)
    task = ours.create_task(b"raise:watched by ours")
    updates = list(ours.watch_task(task.id, timeout=120))
    final = updates[-1]
    assert final.state == flamepy.TaskState.FAILED
    assert [(e.code, e.message) for e in final.events if e.code == 3] == [(3, "watched by ours")]


def test_our_client_counters_close_and_unknown_session(
    our_conn: flamepy.Connection, ours: flamepy.Session
) -> None:
    assert [ours.invoke(b"a"), ours.invoke(b"b"), ours.invoke(b"c")] == [b"a", b"b", b"c"]
    with pytest.raises(flamepy.FlameError, match="counted failure"):
        ours.invoke(b"raise:counted failure")
    status = our_conn.get_session(ours.id).status
    assert (status.pending, status.running, status.succeed, status.failed) == (0, 0, 3, 1)
    assert sorted(t.state.name for t in ours.list_tasks()) == ["FAILED", "SUCCEED", "SUCCEED", "SUCCEED"]
    ours.close()
    closed = our_conn.get_session(ours.id)
    assert closed.state == flamepy.SessionState.CLOSED
    with pytest.raises(flamepy.FlameError) as err:
        our_conn.open_session("no-such-session-ours")
    assert err.value.code == flamepy.FlameErrorCode.NOT_FOUND


def test_our_client_reads_the_tasks_a_close_cancelled(
    our_conn: flamepy.Connection, ours: flamepy.Session, tmp_path: Path
) -> None:
    lock_path = tmp_path / "tasks.lock"
    with open(lock_path, "wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # every task waits for this lock in the service
        for _ in range(40):
            ours.create_task(f"wait:{lock_path}".encode())
        ours.close()
        status = our_conn.get_session(ours.id).status
        states = Counter(t.state for t in ours.list_tasks())
        fcntl.flock(lock, fcntl.LOCK_UN)
    assert status.state == flamepy.SessionState.CLOSED and status.pending == 0
    assert states[flamepy.TaskState.CANCELLED] == status.cancelled > 0
    assert sum(states.values()) == 40


# -- a 0.6.0 service whose on_session_enter raises (its client run overlaps the tests above) --------


def test_a_failing_on_session_enter_is_recorded_as_event_1001(enter_fails060: Steps) -> None:
    events = enter_fails060.value("get_session")["events"]
    assert events and all(e["code"] == 1001 for e in events), events
    assert "failed to bind session" in events[0]["message"]
    assert "cannot load the model: weights missing" in events[0]["message"]
    assert enter_fails060.value("close_session") is None


def test_the_060_caller_hears_of_a_failing_on_session_enter(enter_fails060: Steps) -> None:
    err = enter_fails060.error("run")
    assert (err["error"], err["code"]) == ("FlameError", "INTERNAL"), err
    assert "cannot load the model: weights missing" in err["message"]
