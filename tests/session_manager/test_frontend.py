"""The flame.v1 Frontend (and our FrontendExt) against a real server, spoken to with raw stubs —
exactly as an independent Flame client would."""

from __future__ import annotations

import grpc
import pytest

from flamepy.proto import extensions_pb2 as ext
from flamepy.proto import frontend_pb2 as fe
from flamepy.proto import types_pb2 as pb
from tests.session_manager.fake_node import FakeNode
from tests.support import channel


def create_session(fs, sid: str, app: str = "flmping", **spec) -> pb.Session:
    return fs.CreateSession(
        fe.CreateSessionRequest(session_id=sid, session=pb.SessionSpec(application=app, **spec))
    )


def create_task(fs, sid: str, data: bytes | None) -> pb.Task:
    spec = pb.TaskSpec(session_id=sid)
    if data is not None:
        spec.input = data
    return fs.CreateTask(fe.CreateTaskRequest(task=spec))


def watch(fs, sid: str, tid: str) -> list[pb.Task]:
    return list(fs.WatchTask(fe.WatchTaskRequest(session_id=sid, task_id=tid), timeout=30))


def code_of(fn) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        fn()
    return info.value.code(), info.value.details()


def test_fresh_cluster_has_exactly_the_default_applications(stubs) -> None:
    fs, _ = stubs
    apps = fs.ListApplication(fe.ListApplicationRequest()).applications
    assert sorted(a.metadata.name for a in apps) == ["flmexec", "flmping", "flmrun"]


def test_application_spec_round_trips_exactly(stubs) -> None:
    fs, _ = stubs
    spec = pb.ApplicationSpec(
        shim=pb.Host,
        description="d",
        labels=["a", "b"],
        image="img",
        command="python",
        arguments=["-m", "x", "${FLAME_ENDPOINT}"],
        environments=[pb.Environment(name="K", value="V")],
        working_directory="/tmp",
        max_instances=3,
        delay_release=7,
        schema=pb.ApplicationSchema(input="i", common_data="c"),
        url="http://u",
        installer="pip",
    )
    r = fs.RegisterApplication(fe.RegisterApplicationRequest(name="full", application=spec))
    assert r.return_code == 0
    got = fs.GetApplication(fe.GetApplicationRequest(name="full"))
    assert got.spec == spec and got.metadata.name == "full" and got.status.creation_time > 1e12
    dup = fs.RegisterApplication(fe.RegisterApplicationRequest(name="full", application=spec))
    assert dup.return_code != 0 and "already exists" in dup.message
    assert fs.UnregisterApplication(fe.UnregisterApplicationRequest(name="full")).return_code == 0
    assert (
        code_of(lambda: fs.GetApplication(fe.GetApplicationRequest(name="full")))[0]
        == grpc.StatusCode.NOT_FOUND
    )


def test_bad_input_gets_the_documented_codes(stubs) -> None:
    fs, _ = stubs
    code, msg = code_of(lambda: create_session(fs, "s1", app="unknown"))
    assert code == grpc.StatusCode.NOT_FOUND and "unknown" in msg
    code, _ = code_of(lambda: create_session(fs, "", app="flmping"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    create_session(fs, "s1")
    assert code_of(lambda: create_session(fs, "s1"))[0] == grpc.StatusCode.ALREADY_EXISTS
    code, msg = code_of(lambda: create_task(fs, "nope", b"x"))
    assert code == grpc.StatusCode.NOT_FOUND and "not found" in msg
    code, msg = code_of(lambda: fs.GetTask(fe.GetTaskRequest(session_id="s1", task_id="99")))
    assert code == grpc.StatusCode.NOT_FOUND
    code, msg = code_of(lambda: fs.OpenSession(fe.OpenSessionRequest(session_id="ghost")))
    assert code == grpc.StatusCode.NOT_FOUND and "not found" in msg
    mismatch = pb.SessionSpec(application="flmping", min_instances=4)
    code, msg = code_of(lambda: fs.OpenSession(fe.OpenSessionRequest(session_id="s1", session=mismatch)))
    assert "spec mismatch" in msg and "min_instances" in msg
    fs.CloseSession(fe.CloseSessionRequest(session_id="s1"))
    code, msg = code_of(lambda: create_task(fs, "s1", b"x"))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "is not open" in msg
    code, msg = code_of(lambda: fs.OpenSession(fe.OpenSessionRequest(session_id="s1")))
    assert "is not open" in msg


def test_tasks_run_watch_and_list(stubs, fake_node: FakeNode) -> None:
    fs, _ = stubs
    s = create_session(fs, "s1")
    assert s.status.state == pb.Open and s.metadata.id == "s1"
    ids = [create_task(fs, "s1", f"in{i}".encode()).metadata.id for i in range(5)]
    assert ids == ["1", "2", "3", "4", "5"]
    msgs = watch(fs, "s1", "5")
    final = msgs[-1]
    assert final.status.state == pb.Succeed and final.spec.output == b"in4"
    assert [e.code for e in final.status.events] == [0, 1, 2]
    assert all(m.status.state != pb.Succeed for m in msgs[:-1])
    assert len(watch(fs, "s1", "5")) == 1  # terminal already: exactly one message
    listed = list(fs.ListTask(fe.ListTaskRequest(session_id="s1")))
    assert [t.metadata.id for t in listed] == ids
    for tid in ids:
        watch(fs, "s1", tid)
    st = fs.GetSession(fe.GetSessionRequest(session_id="s1")).status
    assert (st.pending, st.running, st.succeed) == (0, 0, 5)


def test_failed_task_carries_event_3_with_the_service_message(stubs, fake_node: FakeNode) -> None:
    fs, _ = stubs
    create_session(fs, "s1")
    t = create_task(fs, "s1", b"fail")
    final = watch(fs, "s1", t.metadata.id)[-1]
    assert final.status.state == pb.Failed
    assert [(e.code, e.message) for e in final.status.events if e.code == 3] == [(3, "boom: service failed")]
    got = fs.GetTask(fe.GetTaskRequest(session_id="s1", task_id=t.metadata.id))
    assert got.status.events == final.status.events
    assert fs.GetSession(fe.GetSessionRequest(session_id="s1")).status.failed == 1


def test_no_input_and_no_output_stay_unset(stubs, server) -> None:
    fs, _ = stubs
    node = FakeNode(server.target, handler=lambda data: (0, None, None)).start()
    try:
        create_session(fs, "s1")
        t = create_task(fs, "s1", None)
        assert not t.spec.HasField("input")
        final = watch(fs, "s1", t.metadata.id)[-1]
        assert final.status.state == pb.Succeed and not final.spec.HasField("output")
    finally:
        node.stop()


def test_bind_failure_is_session_event_1001(stubs, server) -> None:
    fs, _ = stubs
    node = FakeNode(server.target, bind_error="OnSessionEnter failed: KeyError: 'model'").start()
    try:
        create_session(fs, "s1", min_instances=1)
        create_task(fs, "s1", b"x")
        # the bind failure arrives over the stream; GetSession reflects it once processed
        from tests.support import wait_until

        ses = wait_until(
            lambda: (s := fs.GetSession(fe.GetSessionRequest(session_id="s1"))).status.events and s,
            timeout=10,
        )
        [ev] = ses.status.events[:1]
        assert ev.code == 1001 and "failed to bind session" in ev.message and "KeyError" in ev.message
        assert ses.status.state == pb.Open and ses.status.pending == 1
    finally:
        node.stop()


def test_close_cancels_pending_tasks(stubs) -> None:
    fs, _ = stubs  # no node: nothing ever runs
    create_session(fs, "s1")
    t = create_task(fs, "s1", b"x")
    closed = fs.CloseSession(fe.CloseSessionRequest(session_id="s1"))
    assert closed.status.state == pb.Closed and closed.status.cancelled == 1 and closed.status.pending == 0
    assert closed.status.HasField("completion_time")
    final = watch(fs, "s1", t.metadata.id)
    assert [m.status.state for m in final] == [pb.Cancelled]
    again = fs.CloseSession(fe.CloseSessionRequest(session_id="s1"))
    assert again.status.state == pb.Closed
    assert [s.metadata.id for s in fs.ListSession(fe.ListSessionRequest()).sessions] == ["s1"]


def test_batch_create_and_session_completion_stream(stubs, fake_node: FakeNode) -> None:
    fs, xs = stubs
    create_session(fs, "s1")
    stream = xs.WatchSession(ext.WatchSessionRequest(session_id="s1"), timeout=60)
    n = 1000
    resp = xs.CreateTasks(
        ext.CreateTasksRequest(
            session_id="s1", inputs=[ext.TaskInput(input=str(i).encode()) for i in range(n)]
        )
    )
    assert resp.task_ids == [str(i) for i in range(1, n + 1)]
    seen: dict[str, bytes] = {}
    for batch in stream:
        for c in batch.completions:
            seen[c.task_id] = c.output
        if len(seen) == n:
            break
    assert seen == {str(i + 1): str(i).encode() for i in range(n)}
    ran = xs.RunTask(ext.RunTaskRequest(session_id="s1", input=b"once"))
    assert ran.status.state == pb.Succeed and ran.spec.output == b"once"


def test_restart_recovers_everything_and_runs_unfinished_tasks(start_server) -> None:
    first = start_server()
    ch = channel(first.target)
    fs = __import__("flamepy.proto.frontend_pb2_grpc", fromlist=["x"]).FrontendStub(ch)
    fs.RegisterApplication(
        fe.RegisterApplicationRequest(name="mine", application=pb.ApplicationSpec(command="c"))
    )
    create_session(fs, "s1", app="mine", common_data=b"ctx")
    for i in range(3):
        create_task(fs, "s1", str(i).encode())
    ch.close()
    first.stop()

    second = start_server()
    ch = channel(second.target)
    fs = __import__("flamepy.proto.frontend_pb2_grpc", fromlist=["x"]).FrontendStub(ch)
    assert fs.GetApplication(fe.GetApplicationRequest(name="mine")).spec.command == "c"
    ses = fs.GetSession(fe.GetSessionRequest(session_id="s1"))
    assert ses.spec.common_data == b"ctx" and ses.status.pending == 3
    node = FakeNode(second.target).start()
    try:
        outs = [watch(fs, "s1", str(i))[-1].spec.output for i in (1, 2, 3)]
        assert outs == [b"0", b"1", b"2"]
        assert create_task(fs, "s1", b"x").metadata.id == "4"
    finally:
        node.stop()
        ch.close()


def test_oversized_task_input_is_rejected_and_nothing_is_created(stubs) -> None:
    from flamepy.types import MAX_TASK_DATA_BYTES

    fs, xs = stubs
    create_session(fs, "s1")
    code, msg = code_of(lambda: create_task(fs, "s1", b"x" * (MAX_TASK_DATA_BYTES + 1)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "object cache" in msg
    batch = [ext.TaskInput(input=b"ok"), ext.TaskInput(input=b"x" * (MAX_TASK_DATA_BYTES + 1))]
    code, _ = code_of(lambda: xs.CreateTasks(ext.CreateTasksRequest(session_id="s1", inputs=batch)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert list(fs.ListTask(fe.ListTaskRequest(session_id="s1"))) == []  # all or nothing
    assert create_task(fs, "s1", b"x" * MAX_TASK_DATA_BYTES).metadata.id == "1"


def test_finished_tasks_leave_memory_and_are_read_back_from_storage(start_server) -> None:
    from flamepy.proto import frontend_pb2_grpc

    def check(fs) -> None:
        got = fs.GetTask(fe.GetTaskRequest(session_id="s1", task_id="2"))
        assert (got.spec.input, got.spec.output, got.status.state) == (b"in1", b"in1", pb.Succeed)
        assert [e.code for e in got.status.events] == [0, 1, 2]
        failed = fs.GetTask(fe.GetTaskRequest(session_id="s1", task_id="4"))
        assert [(e.code, e.message) for e in failed.status.events if e.code == 3] == [
            (3, "boom: service failed")
        ]
        listed = list(fs.ListTask(fe.ListTaskRequest(session_id="s1")))
        assert [(t.metadata.id, t.spec.input) for t in listed] == [(str(i + 1), inputs[i]) for i in range(5)]
        [only] = watch(fs, "s1", "5")  # finished: one message, its final state
        assert (only.status.state, only.spec.output) == (pb.Succeed, b"in4")
        assert code_of(lambda: fs.GetTask(fe.GetTaskRequest(session_id="s1", task_id="6")))[0] == (
            grpc.StatusCode.NOT_FOUND
        )
        st = fs.GetSession(fe.GetSessionRequest(session_id="s1")).status
        assert (st.pending, st.running, st.succeed, st.failed) == (0, 0, 4, 1)

    inputs = [b"in0", b"in1", b"in2", b"fail", b"in4"]
    first = start_server()
    ch = channel(first.target)
    fs = frontend_pb2_grpc.FrontendStub(ch)
    node = FakeNode(first.target).start()
    try:
        create_session(fs, "s1")
        for data in inputs:
            create_task(fs, "s1", data)
        for tid in ("1", "2", "3", "4", "5"):
            watch(fs, "s1", tid)
        # a terminal state is forgotten right after it is durable and published
        assert first.sm.broker.core.get_session("s1").tasks == {}
        check(fs)
    finally:
        node.stop()
        ch.close()
    first.stop()

    second = start_server()  # finished tasks are counted at start, not loaded
    assert second.sm.broker.core.get_session("s1").tasks == {}
    with channel(second.target) as ch:
        check(frontend_pb2_grpc.FrontendStub(ch))
