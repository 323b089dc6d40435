"""FrontendExt.ReadTaskLog against a real session manager and a scripted node (``FakeNode``): the
read goes to the node that ran the task's latest attempt and comes back as its chunk; every way it
can fail has its status and a message naming what is missing."""

from __future__ import annotations

import grpc
import pytest

from flamepy.proto import extensions_pb2 as ext
from flamepy.proto import extensions_pb2_grpc, frontend_pb2_grpc
from flamepy.proto import frontend_pb2 as fe
from flamepy.proto import types_pb2 as pb
from session_manager.effects import TaskRun
from session_manager.storage import codec
from tests.session_manager.conftest import ServerThread
from tests.session_manager.fake_node import FakeNode
from tests.session_manager.test_frontend import code_of, create_session, create_task, watch
from tests.support import channel, wait_until

LOG = b'{"t":1,"s":"sys","l":"start","e":"start"}\n{"t":2,"s":"out","l":"hello"}\n'


def _stubs(srv: ServerThread):
    ch = channel(srv.target)
    return ch, frontend_pb2_grpc.FrontendStub(ch), extensions_pb2_grpc.FrontendExtStub(ch)


def _read(
    xs, sid: str, tid: str, offset: int = 0, max_bytes: int = 0, timeout: float = 30
) -> ext.TaskLogChunk:
    req = ext.ReadTaskLogRequest(session_id=sid, task_id=tid, offset=offset, max_bytes=max_bytes)
    return xs.ReadTaskLog(req, timeout=timeout)


def _ran_task(fs, sid: str = "s1") -> str:
    create_session(fs, sid)
    tid = create_task(fs, sid, b"x").metadata.id
    assert watch(fs, sid, tid)[-1].status.state == pb.Succeed
    return tid


def test_the_log_comes_from_the_node_that_ran_the_task(stubs, fake_node: FakeNode) -> None:
    fs, xs = stubs
    tid = _ran_task(fs)
    fake_node.logs[("s1", tid)] = LOG
    chunk = _read(xs, "s1", tid)
    assert (chunk.data, chunk.offset, chunk.next_offset, chunk.eof) == (LOG, 0, len(LOG), True)
    assert (chunk.size, chunk.node) == (len(LOG), fake_node.name)
    part = _read(xs, "s1", tid, offset=5, max_bytes=7)
    assert (part.data, part.offset, part.next_offset, part.eof) == (LOG[5:12], 5, 12, False)
    [first, second] = [m.read_log for m in fake_node.received if m.WhichOneof("msg") == "read_log"]
    assert (first.session_id, first.task_id, first.offset, first.max_bytes) == ("s1", tid, 0, 1 << 20)
    assert (second.offset, second.max_bytes) == (5, 7)


def test_not_found_and_invalid_requests(stubs, fake_node: FakeNode) -> None:
    fs, xs = stubs
    tid = _ran_task(fs)
    code, details = code_of(lambda: _read(xs, "s1", tid))  # the node has no log: not a job
    assert code == grpc.StatusCode.NOT_FOUND
    assert f"task s1/{tid} has no job log on node {fake_node.name}" in details
    assert code_of(lambda: _read(xs, "s1", "99"))[0] == grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: _read(xs, "nope", "1"))[0] == grpc.StatusCode.NOT_FOUND
    assert code_of(lambda: _read(xs, "s1", "../1"))[0] == grpc.StatusCode.INVALID_ARGUMENT
    code, details = code_of(lambda: _read(xs, "s1", tid, max_bytes=(4 << 20) + 1))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "max_log_chunk_bytes" in details
    assert not [m for m in fake_node.received if m.read_log.max_bytes > 4 << 20]


def test_a_task_that_never_ran_has_no_log(stubs) -> None:
    fs, xs = stubs
    create_session(fs, "idle")
    tid = create_task(fs, "idle", b"x").metadata.id  # no node: it stays Pending
    code, details = code_of(lambda: _read(xs, "idle", tid))
    assert code == grpc.StatusCode.NOT_FOUND and "has not run on any node yet" in details


def test_a_node_that_is_gone_or_silent_is_unavailable_and_named(start_server) -> None:
    srv = start_server(node_log_timeout=0.3)
    ch, fs, xs = _stubs(srv)
    node = FakeNode(srv.target, name="n-silent").start()
    try:
        tid = _ran_task(fs)
        node.answer_logs = False
        code, details = code_of(lambda: _read(xs, "s1", tid))
        assert code == grpc.StatusCode.UNAVAILABLE
        assert f"node n-silent did not answer for the log of task s1/{tid} within 0.3s" in details
    finally:
        node.stop()
    wait_until(lambda: fs.GetNode(fe.GetNodeRequest(name="n-silent")).node.status.state != pb.Ready, 10)
    code, details = code_of(lambda: _read(xs, "s1", tid))
    assert code == grpc.StatusCode.UNAVAILABLE
    assert f"node n-silent that ran task s1/{tid} is not connected; its logs are on that node" in details
    ch.close()


def test_a_read_waiting_on_a_node_fails_when_its_stream_ends(start_server) -> None:
    srv = start_server(node_log_timeout=60.0)
    ch, fs, xs = _stubs(srv)
    node = FakeNode(srv.target, name="n-ends").start()
    tid = _ran_task(fs)
    node.answer_logs = False
    req = ext.ReadTaskLogRequest(session_id="s1", task_id=tid)
    pending = xs.ReadTaskLog.future(req, timeout=30)
    wait_until(lambda: any(m.WhichOneof("msg") == "read_log" for m in node.received), 10)
    node.stop()
    with pytest.raises(grpc.RpcError) as info:
        pending.result(timeout=10)  # well before the 60 s deadline
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "the stream of node n-ends ended before it sent the log" in info.value.details()
    ch.close()


def test_the_node_of_a_finished_task_survives_a_restart(start_server) -> None:
    first = start_server()
    ch, fs, _ = _stubs(first)
    node = FakeNode(first.target, name="n-kept").start()
    tid = _ran_task(fs)
    node.stop()
    ch.close()
    first.stop()

    second = start_server()
    ch, _, xs = _stubs(second)
    node = FakeNode(second.target, name="n-kept").start()
    node.logs[("s1", tid)] = LOG
    try:
        chunk = _read(xs, "s1", tid)
        assert (chunk.data, chunk.node) == (LOG, "n-kept")
    finally:
        node.stop()
        ch.close()


def test_run_records_keep_the_node_and_old_ones_still_load() -> None:
    run = TaskRun(2, None, None, 1, ("attempt 1: node a lost",), ran_on="b")
    assert codec.run_from_json(codec.run_to_json(run)) == run
    old = '[2, "b-1", "b", 1, ["attempt 1: node a lost"]]'  # schema v3 before ran_on
    assert codec.run_from_json(old) == TaskRun(2, "b-1", "b", 1, ("attempt 1: node a lost",))
