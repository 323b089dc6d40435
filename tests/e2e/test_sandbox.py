"""flamepy.tools.Sandbox end to end: the built-in flmexec application on a real local cluster."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import wait

import pytest

import flamepy
from flamepy.cluster import LocalCluster
from flamepy.tools import Sandbox, SandboxAttr, SandboxOutput

pytestmark = pytest.mark.e2e


@pytest.fixture
def default_connection_to(cluster: LocalCluster, tmp_path) -> Iterator[LocalCluster]:
    """This process's FLAME_* variables point at the cluster, so the top-level helpers use it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLAME_CONFIG", str(tmp_path / "no-such-flame.yaml"))
        mp.setenv("FLAME_ENDPOINT", cluster.endpoint)
        flamepy.reset_default_connection()
        try:
            yield cluster
        finally:
            flamepy.reset_default_connection()


def test_python_run_code_and_submit_code(conn: flamepy.Connection) -> None:
    with Sandbox.create(SandboxAttr(language="python"), connection=conn) as sb:
        out = sb.run_code("import sys\nprint(sys.stdin.read()[::-1])\n", input=b"olleh")
        assert isinstance(out, SandboxOutput) and out.text() == "hello\n"
        assert sb.run_code("print(6 * 7)").data == b"42\n"
        futures = [sb.submit_code(f"print({i} ** 2)") for i in range(20)]
        wait(futures, timeout=60)
        assert [f.result().text() for f in futures] == [f"{i**2}\n" for i in range(20)]


def test_shell_run_code_and_submit_code(conn: flamepy.Connection) -> None:
    with Sandbox.create(SandboxAttr(language="shell"), connection=conn) as sb:
        assert sb.run_code("tr a-z A-Z", input=b"shout\n").text() == "SHOUT\n"
        everything = bytes(range(256))
        assert sb.run_code("cat", input=everything).data == everything
        futures = [sb.submit_code(f"echo task {i}") for i in range(10)]
        assert [f.result(timeout=60).text() for f in futures] == [f"task {i}\n" for i in range(10)]


def test_failing_code_raises_with_exit_code_and_stderr(conn: flamepy.Connection) -> None:
    with Sandbox.create(SandboxAttr(language="python"), connection=conn) as sb:
        with pytest.raises(flamepy.FlameError, match="exited with code 1") as info:
            sb.run_code("raise RuntimeError('the code broke')")
        assert "RuntimeError: the code broke" in info.value.message
        future = sb.submit_code("import sys; sys.stderr.write('nope'); sys.exit(5)")
        with pytest.raises(flamepy.FlameError, match="exited with code 5: nope"):
            future.result(timeout=60)
        assert sb.run_code("print('still fine')").text() == "still fine\n"


def test_open_restores_the_sandbox_and_close_ends_it(conn: flamepy.Connection) -> None:
    attr = SandboxAttr(language="shell", runtime="sh", min_instances=0, max_instances=2)
    sb = Sandbox.create(attr, connection=conn)
    try:
        stored = json.loads(conn.get_session(sb.sandbox_id).common_data() or b"")
        assert stored == {
            "language": "shell",
            "runtime": "sh",
            "min_instances": 0,
            "max_instances": 2,
            "resreq": None,
        }
        again = Sandbox.open(sb.sandbox_id, connection=conn)
        assert again.attr == sb.attr and again.sandbox_id == sb.sandbox_id
        assert again.run_code("echo $0").text().strip().endswith("main.sh")
    finally:
        sb.close()
    sb.close()  # idempotent
    with pytest.raises(flamepy.InvalidStateError, match="closed"):
        sb.run_code("echo no")
    assert conn.get_session(again.sandbox_id).state == flamepy.SessionState.CLOSED


def test_open_rejects_a_session_of_another_application(conn: flamepy.Connection) -> None:
    ssn = conn.create_session(flamepy.SessionAttributes(application="flmping"))
    try:
        with pytest.raises(flamepy.InvalidArgumentError, match="not a sandbox"):
            Sandbox.open(ssn.id, connection=conn)
    finally:
        ssn.close()


def test_the_default_connection_is_used_like_flames_sandbox(default_connection_to: LocalCluster) -> None:
    with Sandbox.create(SandboxAttr(language="Python")) as sb:
        assert sb.attr.language == "python"
        assert sb.run_code("print('via the default connection')").text() == "via the default connection\n"
        reopened = Sandbox.open(sb.sandbox_id)
        assert reopened.submit_code("print(1 + 1)").result(timeout=60).text() == "2\n"
