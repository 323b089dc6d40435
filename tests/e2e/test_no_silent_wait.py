"""No caller waits in silence: a session that can never run fails its tasks, and the caller hears why.

A real local cluster (session manager, executor manager, service processes) with a short bind
limit (``--max-bind-failures 3``), a short grace period for impossible resources
(``--unschedulable-timeout 2``) and a node without GPUs (``FLAME_FAKE_GPUS=0``), driven by our
client: a service whose ``on_session_enter`` raises, a command that does not exist, and ``gpu=1``
(or ``cpu=10000``) each make ``invoke`` raise a FlameError naming the application and the cause
within seconds of the decision; updating the application lets the session bind again.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

import flamepy
from flamepy.cluster import LocalCluster
from tests.e2e.conftest import HERE, ROOT, app_attrs

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

MAX_BIND_FAILURES = 3
UNSCHEDULABLE_TIMEOUT_S = 2
# 3 binds with 0.5 s + 1 s of backoff between them, each starting a Python process: well under this
WITHIN_S = 30


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with LocalCluster(
        tmp_path_factory.mktemp("no-silent-wait"),
        port=0,
        node_name="node-a",
        executors_env={"FLAME_NODE_CPUS": "2", "FLAME_NODE_MEMORY": "4g", "FLAME_FAKE_GPUS": "0"},
        session_manager_args=[
            "--max-bind-failures",
            str(MAX_BIND_FAILURES),
            "--unschedulable-timeout",
            str(UNSCHEDULABLE_TIMEOUT_S),
        ],
    ) as c:
        yield c


@pytest.fixture(scope="module")
def conn(cluster: LocalCluster) -> Iterator[flamepy.Connection]:
    with flamepy.Connection(cluster.endpoint) as c:
        c.register_application("faulty", app_attrs(HERE / "faulty_service.py"))
        c.register_application("echo", app_attrs(ROOT / "examples" / "echo" / "service.py"))
        c.register_application(
            "no-such-command",
            flamepy.ApplicationAttributes(command="/nonexistent/flame-no-such-command", arguments=["x"]),
        )
        yield c


def invoke_error(ssn: flamepy.Session, data: bytes = b"hello") -> flamepy.FlameError:
    """The error ``invoke`` raises, checked to come within ``WITHIN_S`` seconds."""
    began = time.monotonic()
    with pytest.raises(flamepy.FlameError) as info:
        ssn.invoke(data)
    assert time.monotonic() - began < WITHIN_S
    return info.value


def test_a_raising_on_session_enter_reaches_the_caller(conn: flamepy.Connection) -> None:
    ssn = conn.create_session(flamepy.SessionAttributes(application="faulty", common_data=b"fail-enter"))
    try:
        err = invoke_error(ssn)
        text = str(err)
        assert "application 'faulty' cannot start" in text
        assert "cannot load the model: weights missing" in text
        assert f"{MAX_BIND_FAILURES} bind failures in a row" in text
        later = invoke_error(ssn, b"again")  # at once: the session no longer binds
        assert "cannot load the model: weights missing" in str(later)
        events = conn.get_session(ssn.id).status.events
        assert [e.code for e in events] == [1001] * (MAX_BIND_FAILURES + 1)
        failed = [t for t in ssn.list_tasks() if t.state == flamepy.TaskState.FAILED]
        assert len(failed) == 2 and all(t.events[-1].code == 3 for t in failed)
    finally:
        ssn.close()


def test_a_command_that_does_not_exist_reaches_the_caller(conn: flamepy.Connection) -> None:
    ssn = conn.create_session(flamepy.SessionAttributes(application="no-such-command"))
    try:
        text = str(invoke_error(ssn))
        assert "application 'no-such-command' cannot start" in text
        assert "/nonexistent/flame-no-such-command" in text
    finally:
        ssn.close()


def test_updating_the_application_lets_its_failed_session_run(conn: flamepy.Connection) -> None:
    conn.register_application(
        "fixed-later", flamepy.ApplicationAttributes(command="/nonexistent/flame-fixed-later")
    )
    ssn = conn.create_session(flamepy.SessionAttributes(application="fixed-later"))
    try:
        assert "application 'fixed-later' cannot start" in str(invoke_error(ssn))
        conn.update_application("fixed-later", app_attrs(ROOT / "examples" / "echo" / "service.py"))
        assert ssn.invoke(b"works now") == b"works now"
    finally:
        ssn.close()
        conn.unregister_application("fixed-later")


@pytest.mark.parametrize(
    ("resreq", "missing"),
    [("cpu=1,gpu=1", "gpu=1"), ("cpu=10000", "cpu=10000")],
)
def test_a_resource_request_no_node_can_hold_reaches_the_caller(
    conn: flamepy.Connection, resreq: str, missing: str
) -> None:
    attrs = flamepy.SessionAttributes(
        application="echo", resreq=flamepy.ResourceRequirement.from_string(resreq)
    )
    ssn = conn.create_session(attrs)
    try:
        text = str(invoke_error(ssn))
        why = f"no node can hold {missing} (largest: node-a cpu=2 mem=4g gpu=0)"
        assert f"application 'echo' cannot start: {why}" in text
        [event] = conn.get_session(ssn.id).status.events
        assert (event.code, event.message) == (1002, why)
    finally:
        ssn.close()


def test_a_session_that_fits_still_runs(conn: flamepy.Connection) -> None:
    ssn = conn.create_session(
        flamepy.SessionAttributes(application="echo", resreq=flamepy.ResourceRequirement.from_string("cpu=2"))
    )
    try:
        assert ssn.invoke(b"fits") == b"fits"
        assert not conn.get_session(ssn.id).status.events
    finally:
        ssn.close()


def test_the_limits_are_command_line_options() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "session_manager", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--max-bind-failures" in out and "--unschedulable-timeout" in out
