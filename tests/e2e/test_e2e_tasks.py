"""End to end: real session manager, real executor manager, real service processes."""

from __future__ import annotations

import pytest

import flamepy
from flamepy.proto import frontend_pb2 as fe
from flamepy.proto import frontend_pb2_grpc
from flamepy.proto import types_pb2 as pb
from tests.support import channel as auth_channel
from tests.support import wait_until

pytestmark = pytest.mark.e2e


def attrs(app: str, **kw) -> flamepy.SessionAttributes:
    return flamepy.SessionAttributes(application=app, **kw)


def test_issue_snippet_echo_invoke_and_1000_futures(conn: flamepy.Connection) -> None:
    ssn = conn.create_session(attrs("echo", common_data=b"ctx", min_instances=1))
    try:
        assert ssn.invoke(b"hi") == b"hi"
        assert ssn.invoke(None) == b"ctx"  # the service saw the session's common data
        futs = [ssn.run(str(i).encode()) for i in range(1000)]
        assert [f.result(timeout=60) for f in futs] == [str(i).encode() for i in range(1000)]
        assert ssn.common_data() == b"ctx"
    finally:
        ssn.close()
    st = conn.get_session(ssn.id).status
    assert st.state == flamepy.SessionState.CLOSED and st.succeed == 1002 and st.failed == 0


def test_default_applications_run(conn: flamepy.Connection) -> None:
    ping = conn.create_session(attrs("flmping"))
    run = conn.create_session(attrs("flmexec"))
    try:
        assert ping.invoke(b"ping") == b"ping"
        assert run.invoke(b"echo hello from $FLAME_TASK_ID") == b"hello from 1\n"
        with pytest.raises(flamepy.FlameError, match="exited with code 3"):
            run.invoke(b"echo oops >&2; exit 3")
    finally:
        ping.close()
        run.close()


def test_service_exception_fails_task_with_event_3(conn: flamepy.Connection) -> None:
    ssn = conn.create_session(attrs("faulty"))
    try:
        with pytest.raises(flamepy.FlameError, match="ValueError: bad input for this service"):
            ssn.invoke(b"raise")
        fut = ssn.run(b"raise")
        with pytest.raises(flamepy.FlameError, match="bad input"):
            fut.result(timeout=30)
        [first, second] = sorted(ssn.list_tasks(), key=lambda t: int(t.id))
        assert first.state == flamepy.TaskState.FAILED
        assert [e.code for e in first.events] == [0, 1, 3]
        assert "ValueError: bad input for this service" in (first.events[-1].message or "")
        assert ssn.invoke(b"fine") == b"fine"  # the executor is still usable
    finally:
        ssn.close()


def test_crash_mid_task_fails_that_task_and_the_session_recovers(conn: flamepy.Connection) -> None:
    ssn = conn.create_session(attrs("faulty"))
    try:
        assert ssn.invoke(b"warm") == b"warm"
        with pytest.raises(flamepy.FlameError) as info:
            ssn.invoke(b"crash")
        assert "exited" in info.value.message or "crash" in info.value.message.lower()
        assert ssn.invoke(b"after") == b"after"  # a new service process took over
    finally:
        ssn.close()


def test_a_crash_inside_a_burst_of_pushed_ahead_tasks_fails_only_that_task(conn: flamepy.Connection) -> None:
    """Short tasks are pushed ahead to the executors and sent to the services before earlier ones
    finish; a process that dies mid-burst fails the task it was running, and the ones queued behind
    it run again elsewhere, each exactly once."""
    ssn = conn.create_session(attrs("faulty", min_instances=2))
    try:
        assert [f.result(timeout=60) for f in [ssn.run(b"w") for _ in range(200)]] == [b"w"] * 200
        inputs = [str(i).encode() for i in range(400)]
        inputs[150] = b"crash"
        futs = [ssn.run(x) for x in inputs]
        for x, f in zip(inputs, futs, strict=True):
            if x == b"crash":
                with pytest.raises(flamepy.FlameError, match="exited with code -9"):
                    f.result(timeout=60)
            else:
                assert f.result(timeout=60) == x
        st = conn.get_session(ssn.id).status
        assert (st.succeed, st.failed, st.pending, st.running) == (599, 1, 0, 0)
    finally:
        ssn.close()


def test_bind_failure_becomes_event_1001_not_a_hang(conn: flamepy.Connection) -> None:
    ssn = conn.create_session(attrs("faulty", common_data=b"fail-enter", min_instances=1))
    try:
        fut = ssn.run(b"never")
        ev = wait_until(
            lambda: next((e for e in conn.get_session(ssn.id).status.events if e.code == 1001), None),
            timeout=30,
        )
        assert "failed to bind session" in (ev.message or "")
        assert "weights missing" in (ev.message or "")
        assert conn.get_session(ssn.id).state == flamepy.SessionState.OPEN
        assert not fut.done()
    finally:
        ssn.close()
    with pytest.raises(flamepy.InvalidStateError):
        fut.result(timeout=30)


def test_close_cancels_pending_tasks(conn: flamepy.Connection) -> None:
    conn.register_application("wasm-only", flamepy.ApplicationAttributes(shim=flamepy.Shim.WASM))
    ssn = conn.create_session(attrs("wasm-only"))
    tasks = [ssn.create_task(b"x") for _ in range(3)]
    fut = ssn.run(b"y")
    assert conn.get_session(ssn.id).status.pending >= 3  # no executor offers Wasm: stays pending
    ssn.close()
    st = conn.get_session(ssn.id).status
    assert st.cancelled == 4 and st.pending == 0
    assert all(ssn.get_task(t.id).state == flamepy.TaskState.CANCELLED for t in tasks)
    with pytest.raises(flamepy.InvalidStateError):
        fut.result(timeout=30)
    ssn.close()  # idempotent


def test_bad_input_gets_documented_errors(conn: flamepy.Connection) -> None:
    with pytest.raises(flamepy.NotFoundError, match="no-such-app"):
        conn.create_session(attrs("no-such-app"))
    with pytest.raises(flamepy.NotFoundError):
        conn.get_session("no-such-session")
    with pytest.raises(flamepy.InvalidArgumentError, match="gpu"):
        flamepy.ResourceRequirement.from_string("cpu=1,gpu=lots")
    assert conn.get_application("no-such-app") is None
    ssn = conn.create_session(attrs("echo"))
    with pytest.raises(flamepy.InvalidArgumentError, match="str"):
        ssn.create_task("not bytes")  # type: ignore[arg-type]
    ssn.close()
    with pytest.raises(flamepy.InvalidStateError, match="is not open"):
        conn.get_session(ssn.id).create_task(b"late")
    with pytest.raises(flamepy.AlreadyExistsError):
        conn.register_application("echo", flamepy.ApplicationAttributes(command="x"))


def test_independent_client_speaking_the_wire_contract(cluster, conn: flamepy.Connection) -> None:
    """Raw flame.v1 stubs, no SDK, default message limits, no metadata."""
    with auth_channel(f"127.0.0.1:{cluster.port}") as ch:
        fs = frontend_pb2_grpc.FrontendStub(ch)
        r = fs.RegisterApplication(fe.RegisterApplicationRequest(name="wire-app", application=_spec(conn)))
        assert r.return_code == 0
        fs.CreateSession(
            fe.CreateSessionRequest(
                session_id="wire-1", session=pb.SessionSpec(application="wire-app", batch_size=1)
            )
        )
        ids = [
            fs.CreateTask(
                fe.CreateTaskRequest(task=pb.TaskSpec(session_id="wire-1", input=str(i).encode()))
            ).metadata.id
            for i in range(100)
        ]
        assert ids == [str(i) for i in range(1, 101)]
        for i, tid in enumerate(ids):
            msgs = list(fs.WatchTask(fe.WatchTaskRequest(session_id="wire-1", task_id=tid), timeout=60))
            final = msgs[-1]
            assert final.status.state == pb.Succeed and final.spec.output == str(i).encode()
            assert [e.code for e in final.status.events] == [0, 1, 2]
            assert final.status.completion_time >= final.status.creation_time > 1e12
        closed = fs.CloseSession(fe.CloseSessionRequest(session_id="wire-1"))
        assert closed.status.succeed == 100 and closed.status.state == pb.Closed


def _spec(conn: flamepy.Connection) -> pb.ApplicationSpec:
    from flamepy.common import convert as _convert

    app = conn.get_application("echo")
    assert app is not None
    return _convert.app_attrs_to_pb(app.attributes)


def test_independent_service_process_runs_under_our_executor(conn: flamepy.Connection) -> None:
    """tests/executor/raw_service.py implements flame.v1.Instance with raw stubs, no SDK."""
    ssn = conn.create_session(attrs("raw"))
    try:
        assert ssn.invoke(b"hello") == b"hello"
        assert ssn.invoke(b"none") is None
        assert ssn.invoke(b"empty") == b""
        with pytest.raises(flamepy.FlameError, match="task failed on purpose"):
            ssn.invoke(b"fail")
    finally:
        ssn.close()


def test_ten_thousand_outstanding_futures_on_one_session(conn: flamepy.Connection) -> None:
    ssn = conn.create_session(attrs("flmping"))
    try:
        futs = [ssn.run(i.to_bytes(4, "big")) for i in range(10_000)]
        assert all(f.result(timeout=120) == i.to_bytes(4, "big") for i, f in enumerate(futs))
    finally:
        ssn.close()
    assert conn.get_session(ssn.id).status.succeed == 10_000


def test_oversized_input_gets_a_clear_error_before_sending(conn: flamepy.Connection) -> None:
    from flamepy.types import MAX_TASK_DATA_BYTES

    ssn = conn.create_session(attrs("echo"))
    try:
        with pytest.raises(flamepy.InvalidArgumentError, match="object cache"):
            ssn.run(b"x" * (MAX_TASK_DATA_BYTES + 1))
        big = b"y" * (MAX_TASK_DATA_BYTES - 1024)
        futs = [ssn.run(big) for _ in range(6)]  # 24 MiB queued: split into byte-bounded batches
        assert all(f.result(timeout=60) == big for f in futs)
    finally:
        ssn.close()
